using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>
/// The service program as a user starts it: a bad option or a model that cannot serve ends it with exit
/// code 2 and one line on stderr saying why, never a stack trace or an abort.
/// </summary>
[TestFixture, NonParallelizable]
public class ServiceStartupTests
{
    private string _dir = null!;

    [OneTimeSetUp]
    public void CreateFolder() => _dir = Directory.CreateTempSubdirectory("mlt-service-startup-").FullName;

    [OneTimeTearDown]
    public void DeleteFolder() => Directory.Delete(_dir, true);

    private static (int ExitCode, string StdOut, string StdErr) Run(params string[] args) => RunIn(null, new Dictionary<string, string>(), args);

    private static (int ExitCode, string StdOut, string StdErr) RunIn(string? folder, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (folder is not null)
            start.WorkingDirectory = folder;
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        start.ArgumentList.Add(Path.Combine(TestContext.CurrentContext.TestDirectory, "MLTransfer.Service.dll"));
        foreach (var a in args)
            start.ArgumentList.Add(a);
        if (!environment.ContainsKey("MLTRANSFER_MODEL"))
            start.Environment.Remove("MLTRANSFER_MODEL");
        start.Environment.Remove("MLTRANSFER_DEBUG");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the service did not exit: {string.Join(' ', args)}");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static void AssertRefused((int ExitCode, string StdOut, string StdErr) run, string message)
    {
        Assert.That(run.ExitCode, Is.EqualTo(2), run.StdOut + run.StdErr);
        var lines = run.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), "one line on stderr:\n" + run.StdErr);
        Assert.That(lines[0], Does.StartWith("error: ").And.Contain(message).And.Not.Contain("   at "));
        TestContext.Out.WriteLine(lines[0]);
    }

    [TestCase(new[] { "--urls", "http://127.0.0.1:0" }, "No model to serve", TestName = "Startup_NoModel_ExitsWithAdvice")]
    [TestCase(new[] { "--model", "/nonexistent/m.zip", "--urls", "http://127.0.0.1:0" }, "Model file not found", TestName = "Startup_MissingModel_ExitsWithAdvice")]
    [TestCase(new[] { "--model", "/nonexistent/m.zip", "--max-image-bytes", "lots" }, "--max-image-bytes must be a positive whole number", TestName = "Startup_BadLimit_ExitsWithAdvice")]
    [TestCase(new[] { "--model", "/nonexistent/m.zip", "--max-batch-files", "0" }, "--max-batch-files must be a positive whole number", TestName = "Startup_ZeroBatchFiles_ExitsWithAdvice")]
    [TestCase(new[] { "--model", "/nonexistent/m.zip", "--max-batch-files", "100000" }, "--max-batch-files must be at most 1000", TestName = "Startup_HugeBatchFiles_ExitsWithAdvice")]
    [TestCase(new[] { "--model", "/nonexistent/m.zip", "--decode-budget-mb", "99999999999999" }, "--decode-budget-mb must be at most", TestName = "Startup_OverflowingBudget_ExitsWithAdvice")]
    [TestCase(new[] { "--model", "/nonexistent/m.zip", "--reload-debounce-ms", "-5" }, "--reload-debounce-ms must be a positive whole number", TestName = "Startup_NegativeDebounce_ExitsWithAdvice")]
    [TestCase(new[] { "--model", "/nonexistent/m.zip", "--expose-paths", "yes" }, "--expose-paths must be true or false", TestName = "Startup_BadFlag_ExitsWithAdvice")]
    public void BadConfiguration_Exits2_WithAMessage(string[] args, string message) => AssertRefused(Run(args), message);

    [Test]
    public void Help_ListsEveryOptionWithItsDefault_AndExits0()
    {
        var run = Run("--help");
        Assert.That(run.ExitCode, Is.Zero, run.StdErr);
        Assert.That(run.StdErr, Is.Empty);
        foreach (var expected in new[]
        {
            "--model PATH", "--max-image-bytes N", "[8388608]", "--max-image-pixels N", "[100000000]", "--max-batch-files N", "[16]",
            "--top-k N", "[3]", "--decode-budget-mb N", "[512]", "--reload-debounce-ms N", "[500]", "--expose-paths true|false", "[false]",
            "--otlp-endpoint URL", "--otlp-interval-ms N", "[10000]", "--urls", "appsettings.json", "Service__MaxImageBytes",
        })
            Assert.That(run.StdOut, Does.Contain(expected));
    }

    [Test]
    public void BadValue_FromTheEnvironmentOrAppsettings_Exits2_WithOneLine()
    {
        AssertRefused(RunIn(null, new Dictionary<string, string> { ["Service__MaxBatchFiles"] = "0" }, "--model", "/nonexistent/m.zip"),
            "--max-batch-files must be a positive whole number");
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "appsettings")).FullName;
        File.WriteAllText(Path.Combine(folder, "appsettings.json"), """{ "Service": { "TopK": 5000 } }""");
        AssertRefused(RunIn(folder, new Dictionary<string, string>(), "--model", "/nonexistent/m.zip"), "--top-k must be at most 1000");
        File.WriteAllText(Path.Combine(folder, "appsettings.json"), """{ "Service": { "OtlpEndpoint": "not a url" } }""");
        AssertRefused(RunIn(folder, new Dictionary<string, string>(), "--model", "/nonexistent/m.zip"), "--otlp-endpoint must be an http:// or https:// address");
    }

    [Test]
    public void ModelFromTheEnvironment_AndLimitsFromAppsettings_AreUsed()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "configured")).FullName;
        File.WriteAllText(Path.Combine(folder, "appsettings.json"), """{ "Service": { "MaxBatchFiles": 0 } }""");
        // The command line wins over appsettings.json: the 0 there is never used.
        var run = RunIn(folder, new Dictionary<string, string> { ["MLTRANSFER_MODEL"] = "/nonexistent/from-env.zip" }, "--max-batch-files", "4", "--urls", "http://127.0.0.1:0");
        AssertRefused(run, "/nonexistent/from-env.zip");
    }

    /// <summary>Files at the model path that are not a servable model, each made here.</summary>
    private string BadModel(string kind)
    {
        var path = Path.Combine(_dir, kind + ".zip");
        switch (kind)
        {
            case "text":
                File.WriteAllText(path, "this is a text file with a .zip name\n");
                break;
            case "random-entries":
                using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
                    for (var i = 0; i < 3; i++)
                    {
                        using var entry = zip.CreateEntry($"entry{i}.bin").Open();
                        var bytes = new byte[1000];
                        new Random(i).NextBytes(bytes);
                        entry.Write(bytes);
                    }
                break;
            default:
                BrokenModelZips.Write(ServiceModels.First, Enum.Parse<BrokenZip>(kind), path);
                break;
        }
        return path;
    }

    // Before, a null backbone (NullReferenceException) or input size 0 (ArgumentOutOfRangeException) aborted
    // with exit 134 and a stack trace, and too few class names started a server that failed every request.
    [TestCase("text")]
    [TestCase("random-entries")]
    [TestCase(nameof(BrokenZip.BackboneNull))]
    [TestCase(nameof(BrokenZip.InputSizeZero))]
    [TestCase(nameof(BrokenZip.TwoClassNames))]
    [TestCase(nameof(BrokenZip.MetadataBomb))]
    public void ModelThatCannotServe_Exits2_WithOneLine(string kind)
    {
        var path = BadModel(kind);
        AssertRefused(Run("--model", path, "--urls", "http://127.0.0.1:0"), path);
    }

    [Test]
    public void AddressInUse_Exits2_WithOneLine()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        AssertRefused(Run("--model", ServiceModels.First, "--urls", $"http://127.0.0.1:{port}"), $"127.0.0.1:{port}: address already in use");
    }
}
