using System.Diagnostics;
using NUnit.Framework;

namespace MLTransfer.Tests.Fixtures;

/// <summary>Debian's Chromium in headless mode, for looking at pages as a person would.</summary>
public static class HeadlessChromium
{
    /// <summary>The browser binary; tests are ignored (with this reason) where it is not installed.</summary>
    public const string Binary = "/usr/bin/chromium";

    /// <summary>Skips the calling test when Chromium is missing (CI installs it; see .ci/run).</summary>
    public static void RequireInstalled()
    {
        if (!File.Exists(Binary))
            Assert.Ignore($"{Binary} is not installed (apt-get install chromium); .ci/run installs it");
    }

    /// <summary>Runs Chromium on <paramref name="url"/> with extra arguments and returns its stdout.</summary>
    public static string Run(string url, params string[] arguments)
    {
        var profile = Directory.CreateTempSubdirectory("mlt-chromium-").FullName;
        try
        {
            var start = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
            // Flags that keep a headless run off the (closed) network and out of the sandbox root refuses.
            foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}" })
                start.ArgumentList.Add(a);
            foreach (var a in arguments)
                start.ArgumentList.Add(a);
            start.ArgumentList.Add(url);
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail("chromium did not finish in 90 s");
            }
            return stdout.Result;
        }
        finally
        {
            Directory.Delete(profile, true);
        }
    }
}
