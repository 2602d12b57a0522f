using System.Diagnostics;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>The service program as a user starts it: configuration mistakes end with a message, not a stack trace.</summary>
public class ServiceStartupTests
{
    [TestCase(new[] { "--urls", "http://127.0.0.1:0" }, "No model to serve", TestName = "Startup_NoModel_ExitsWithAdvice")]
    [TestCase(new[] { "--model", "/nonexistent/m.zip", "--urls", "http://127.0.0.1:0" }, "Model file not found", TestName = "Startup_MissingModel_ExitsWithAdvice")]
    [TestCase(new[] { "--model", "/nonexistent/m.zip", "--max-image-bytes", "lots" }, "--max-image-bytes must be a positive whole number", TestName = "Startup_BadLimit_ExitsWithAdvice")]
    public void BadConfiguration_Exits2_WithAMessage(string[] args, string message)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(TestContext.CurrentContext.TestDirectory, "MLTransfer.Service.dll"));
        foreach (var a in args)
            start.ArgumentList.Add(a);
        start.Environment.Remove("MLTRANSFER_MODEL");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the service did not exit on a bad configuration");
        }
        Assert.That(process.ExitCode, Is.EqualTo(2), stdout.Result + stderr.Result);
        Assert.That(stderr.Result, Does.StartWith("error: ").And.Contain(message).And.Not.Contain("   at "));
    }
}
