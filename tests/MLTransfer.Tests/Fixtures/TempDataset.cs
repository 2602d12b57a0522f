using System.Text;
using NUnit.Framework;

namespace MLTransfer.Tests.Fixtures;

/// <summary>
/// A throw-away dataset folder under the temp directory. Files hold a few arbitrary bytes unless a real
/// image is copied in: the data layer never decodes, so content only matters for duplicate detection.
/// </summary>
public sealed class TempDataset : IDisposable
{
    public TempDataset()
    {
        Root = Path.Combine(Path.GetTempPath(), "mltransfer-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    /// <summary>Absolute path of the dataset folder.</summary>
    public string Root { get; }

    /// <summary>Absolute path of <paramref name="relative"/> inside the dataset.</summary>
    public string PathOf(string relative) => Path.Combine(Root, relative);

    /// <summary>
    /// Writes a file whose bytes are its own relative path, so two files never match by accident.
    /// </summary>
    public string AddFile(string relative) => AddFile(relative, Encoding.UTF8.GetBytes("fake image " + relative));

    /// <summary>Writes a file with the given bytes, creating folders as needed.</summary>
    public string AddFile(string relative, byte[] content)
    {
        var path = PathOf(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>Creates a folder (possibly empty).</summary>
    public string AddFolder(string relative) => Directory.CreateDirectory(PathOf(relative)).FullName;

    /// <summary>Adds <paramref name="count"/> distinct fake images in <c>{prefix}{label}/</c>.</summary>
    public TempDataset AddClass(string label, int count, string prefix = "", string extension = ".jpg")
    {
        for (var i = 0; i < count; i++) AddFile($"{prefix}{label}/{label}_{i:D3}{extension}");
        return this;
    }

    /// <summary>Copies a real image from the shared datasets, e.g. <c>flowers/daisy/x.jpg</c>.</summary>
    public string CopyShared(string sharedRelative, string relative)
    {
        var path = PathOf(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Copy(Path.Combine(SharedDatasets, sharedRelative), path);
        return path;
    }

    /// <summary>
    /// The shared real datasets: <c>../shared/datasets</c> next to the folder holding MLTransfer.sln,
    /// found by walking up from the test binaries so it works from any worktree.
    /// </summary>
    public static string SharedDatasets
    {
        get
        {
            var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MLTransfer.sln"))) dir = dir.Parent;
            if (dir is null) Assert.Fail("MLTransfer.sln not found above " + TestContext.CurrentContext.TestDirectory);
            var shared = Path.GetFullPath(Path.Combine(dir!.FullName, "..", "shared", "datasets"));
            if (!Directory.Exists(shared)) Assert.Fail("Shared datasets not found at " + shared);
            return shared;
        }
    }

    public void Dispose()
    {
        // Directory.Delete does not follow symbolic links, so test links pointing outside are safe to delete.
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
