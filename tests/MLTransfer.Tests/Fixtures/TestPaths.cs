using NUnit.Framework;

namespace MLTransfer.Tests.Fixtures;

/// <summary>
/// Locates the repository and the shared model/dataset folder from the test binaries, so tests work from
/// any worktree and any build output folder.
/// </summary>
public static class TestPaths
{
    private static readonly Lazy<string> Root = new(FindRepoRoot);

    /// <summary>The folder that contains <c>MLTransfer.sln</c>.</summary>
    public static string RepoRoot => Root.Value;

    /// <summary>The shared folder next to the repository (<c>../shared</c>), holding models and datasets.</summary>
    public static string SharedDir => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    /// <summary>A file in <c>../shared/models</c>, e.g. <c>mobilenet_v2_1.0_224.onnx</c>.</summary>
    public static string SharedModel(string file) => Path.Combine(SharedDir, "models", file);

    /// <summary>A dataset folder in <c>../shared/datasets</c>.</summary>
    public static string SharedDataset(string name) => Path.Combine(SharedDir, "datasets", name);

    private static string FindRepoRoot()
    {
        // Walk up rather than hard-code a depth: bin/Debug/net10.0 nesting differs between build setups.
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MLTransfer.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException(
            $"MLTransfer.sln not found above {TestContext.CurrentContext.TestDirectory}; run the tests from the repository");
    }
}
