using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MLTransfer.Inference.Hosting;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary><c>GET /model</c> is public: server paths appear in it only when the operator asks.</summary>
[TestFixture, NonParallelizable]
public class ServiceModelInfoTests
{
    private static async Task<(JsonElement Json, string Text)> Model(ServiceHost host)
    {
        var text = await host.Client.GetStringAsync("model");
        return (JsonDocument.Parse(text).RootElement, text);
    }

    [Test, CancelAfter(60_000)]
    public async Task Model_HidesServerPaths_ByDefault_IncludingInTheReloadError()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        var folder = Path.GetDirectoryName(served)!;
        await using var host = await ServiceHost.StartAsync(served, "--reload-debounce-ms", "100");

        var (json, text) = await Model(host);
        Assert.That(json.GetProperty("path").GetString(), Is.EqualTo("served.zip"));
        var metadata = json.GetProperty("metadata");
        Assert.That(metadata.GetProperty("dataSource").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(metadata.GetProperty("backboneReason").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(metadata.GetProperty("classNames").GetArrayLength(), Is.EqualTo(4), "the rest of the metadata is still there");
        Assert.That(text, Does.Not.Contain(folder).And.Not.Contain(ServiceModels.SamplesDir).And.Not.Contain(Fixtures.TestPaths.SharedDir), "nor the folder the backbone was found in");

        // A failed reload's message names the file, not the folder it is in.
        var classifier = host.Services.GetRequiredService<ReloadingImageClassifier>();
        await File.WriteAllBytesAsync(served, File.ReadAllBytes(ServiceModels.Second)[..50_000]);
        await WaitFor(() => classifier.LastReloadError is not null);
        Assert.That(classifier.LastReloadError, Does.Contain(folder), "the server's own record keeps the full path");
        (json, text) = await Model(host);
        Assert.That(json.GetProperty("lastReloadError").GetString(), Does.Contain("served.zip"));
        Assert.That(text, Does.Not.Contain(folder));
    }

    [Test, CancelAfter(60_000)]
    public async Task Model_ShowsServerPaths_WithExposePaths()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        await using var host = await ServiceHost.StartAsync(served, "--expose-paths", "true");
        var (json, _) = await Model(host);
        Assert.That(json.GetProperty("path").GetString(), Is.EqualTo(Path.GetFullPath(served)));
        Assert.That(json.GetProperty("metadata").GetProperty("dataSource").GetString(), Is.EqualTo(Path.GetFullPath(ServiceModels.SamplesDir)));
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(20))
                Assert.Fail("timed out waiting for the reload attempt");
            await Task.Delay(25);
        }
    }
}
