using MLTransfer.Data;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Data;

[TestFixture]
public class DatasetLoaderTests
{
    private TempDataset _temp = null!;

    [SetUp]
    public void SetUp() => _temp = new TempDataset();

    [TearDown]
    public void TearDown() => _temp.Dispose();

    private static int Count(Dataset d, string label, DatasetSplit? split) =>
        d.Images.Count(i => i.Label == label && i.Split == split);

    [Test]
    public void Load_Hymenoptera_KeepsGivenTrainValSplit()
    {
        var dataset = DatasetLoader.Load(Path.Combine(TempDataset.SharedDatasets, "hymenoptera"));

        Assert.That(dataset.Layout, Is.EqualTo(DatasetLayout.GivenSplit));
        Assert.That(dataset.ClassNames, Is.EqualTo(new[] { "ants", "bees" }));
        Assert.That(dataset.Images, Has.Count.EqualTo(397));
        Assert.That(Count(dataset, "ants", DatasetSplit.Train), Is.EqualTo(123));
        Assert.That(Count(dataset, "bees", DatasetSplit.Train), Is.EqualTo(121));
        Assert.That(Count(dataset, "ants", DatasetSplit.Validation), Is.EqualTo(70));
        Assert.That(Count(dataset, "bees", DatasetSplit.Validation), Is.EqualTo(83));
        Assert.That(dataset.HasGivenSplit, Is.True);
        Assert.That(dataset.ValidationDoublesAsTest, Is.True, "no test/ folder, so val is the held-out set");
        Assert.That(dataset.Skipped, Is.Empty);
        Assert.That(dataset.Images.Select(i => Path.GetFileName(i.Path)),
            Does.Contain("ant photos.jpg").And.Contain("F.pergan.28(f).jpg").And.Contain("formica.jpeg"));
        Assert.That(dataset.Images.All(i => Path.IsPathFullyQualified(i.Path) && File.Exists(i.Path)), Is.True);
    }

    [Test]
    public void Load_Flowers_FindsFiveClassesAndIgnoresAttribution()
    {
        var dataset = DatasetLoader.Load(Path.Combine(TempDataset.SharedDatasets, "flowers"));

        Assert.That(dataset.Layout, Is.EqualTo(DatasetLayout.ClassFolders));
        Assert.That(dataset.ClassNames, Is.EqualTo(new[] { "daisy", "dandelion", "roses", "sunflowers", "tulips" }));
        Assert.That(dataset.Images, Has.Count.EqualTo(600));
        Assert.That(dataset.Images.GroupBy(i => i.Label).Select(g => g.Count()), Is.All.EqualTo(120));
        Assert.That(dataset.Images.All(i => i.Split is null), Is.True);
        Assert.That(dataset.IgnoredFileCount, Is.EqualTo(1), "ATTRIBUTION.txt");
        Assert.That(dataset.Skipped, Is.Empty);
        Assert.That(dataset.Warnings, Is.Empty);
    }

    [Test]
    public void Load_ClassFolders_FindsNestedFilesAnyExtensionCaseAndSortsClassesOrdinally()
    {
        _temp.AddFile("b/one.JPG");
        _temp.AddFile("b/deep/er/two.PnG");
        _temp.AddFile("a/x.webp");
        _temp.AddFile("a/y.bmp");
        _temp.AddFile("B/z.gif");
        _temp.AddFile("B/w.jpeg");

        var dataset = DatasetLoader.Load(_temp.Root);

        Assert.That(dataset.ClassNames, Is.EqualTo(new[] { "B", "a", "b" }));
        Assert.That(dataset.Images, Has.Count.EqualTo(6));
        Assert.That(dataset.Images.Single(i => i.Path.EndsWith("two.PnG")).Label, Is.EqualTo("b"));
        Assert.That(dataset.Root, Is.EqualTo(_temp.Root));
    }

    [Test]
    public void Load_IgnoresHiddenAndJunkFilesAndCountsOtherFiles()
    {
        _temp.AddClass("cats", 2).AddClass("dogs", 2);
        _temp.AddFile("cats/.hidden.jpg");
        _temp.AddFile("cats/.thumbs/t.jpg");
        _temp.AddFile(".cache/x.jpg");
        _temp.AddFile("cats/Thumbs.db");
        _temp.AddFile("dogs/.DS_Store");
        _temp.AddFile("dogs/desktop.ini");
        _temp.AddFile("dogs/notes.txt");
        _temp.AddFile("README.md");

        var dataset = DatasetLoader.Load(_temp.Root);

        Assert.That(dataset.Images, Has.Count.EqualTo(4));
        Assert.That(dataset.ClassNames, Is.EqualTo(new[] { "cats", "dogs" }));
        Assert.That(dataset.Skipped, Is.Empty);
        Assert.That(dataset.IgnoredFileCount, Is.EqualTo(2), "notes.txt and README.md");
    }

    [Test]
    public void Load_ZeroByteImage_IsSkippedAsEmptyFile()
    {
        _temp.AddClass("cats", 2).AddClass("dogs", 2);
        var empty = _temp.AddFile("cats/empty.jpg", []);

        var dataset = DatasetLoader.Load(_temp.Root);

        Assert.That(dataset.Images.Select(i => i.Path), Does.Not.Contain(empty));
        Assert.That(dataset.Skipped, Is.EqualTo(new[] { new SkippedFile(empty, "empty file (or not a regular file)") }));
    }

    [Test]
    public void Load_UnsupportedImageFormat_IsReportedNotSilentlyIgnored()
    {
        _temp.AddClass("cats", 2).AddClass("dogs", 2);
        var tiff = _temp.AddFile("cats/scan.tiff");

        var dataset = DatasetLoader.Load(_temp.Root);

        Assert.That(dataset.Skipped.Single().Path, Is.EqualTo(tiff));
        Assert.That(dataset.Skipped.Single().Reason, Does.Contain("unsupported image format"));
    }

    [Test]
    public void Load_SymlinkLoops_DoNotHangAndEachFolderIsScannedOnce()
    {
        _temp.AddClass("cats", 3).AddClass("dogs", 3);
        Directory.CreateSymbolicLink(_temp.PathOf("cats/loop"), _temp.PathOf("cats"));       // points at its own ancestor
        Directory.CreateSymbolicLink(_temp.PathOf("dogs/up"), _temp.Root);                  // points at the dataset root
        Directory.CreateSymbolicLink(_temp.PathOf("dogs/ab"), _temp.PathOf("dogs/ba"));      // a <-> b cycle of links:
        Directory.CreateSymbolicLink(_temp.PathOf("dogs/ba"), _temp.PathOf("dogs/ab"));      // unresolvable, so not folders
        File.CreateSymbolicLink(_temp.PathOf("cats/self.jpg"), _temp.PathOf("cats/self.jpg"));

        var load = Task.Run(() => DatasetLoader.Load(_temp.Root));
        Assert.That(load.Wait(TimeSpan.FromSeconds(20)), Is.True, "loading must terminate");
        var dataset = load.Result;

        Assert.That(dataset.Images, Has.Count.EqualTo(6));
        Assert.That(dataset.Images.Select(i => i.Path).Distinct().Count(), Is.EqualTo(6));
        Assert.That(dataset.Skipped.Select(s => Path.GetFileName(s.Path)), Is.EquivalentTo(new[] { "loop", "up", "self.jpg" }));
    }

    [Test]
    public void Load_SymlinkedClassFolderOutsideRoot_IsFollowed()
    {
        using var elsewhere = new TempDataset();
        elsewhere.AddClass("birds", 2);
        _temp.AddClass("cats", 2);
        Directory.CreateSymbolicLink(_temp.PathOf("birds"), elsewhere.PathOf("birds"));

        var dataset = DatasetLoader.Load(_temp.Root);

        Assert.That(dataset.ClassNames, Is.EqualTo(new[] { "birds", "cats" }));
        Assert.That(dataset.Images.Count(i => i.Label == "birds"), Is.EqualTo(2));
    }

    [Test]
    public void Load_MissingFolder_ThrowsWithWhereAndFix()
    {
        var missing = _temp.PathOf("nope");

        var ex = Assert.Throws<MLTransferException>(() => DatasetLoader.Load(missing))!;

        Assert.That(ex.What, Does.Contain("not found"));
        Assert.That(ex.Where, Is.EqualTo(missing));
        Assert.That(ex.Fix, Is.Not.Null);
    }

    [Test]
    public void Load_EmptyFolder_Throws()
    {
        var ex = Assert.Throws<MLTransferException>(() => DatasetLoader.Load(_temp.Root))!;
        Assert.That(ex.What, Does.Contain("empty"));
        Assert.That(ex.Where, Is.EqualTo(_temp.Root));
    }

    [Test]
    public void Load_FolderWithoutImages_ThrowsNoImages()
    {
        _temp.AddFile("cats/readme.txt");
        _temp.AddFile("dogs/.hidden.jpg");

        var ex = Assert.Throws<MLTransferException>(() => DatasetLoader.Load(_temp.Root))!;

        Assert.That(ex.What, Does.StartWith("No images found"));
        Assert.That(ex.Fix, Does.Contain(".jpg"));
    }

    [Test]
    public void Load_SingleClass_ThrowsNamingTheClass()
    {
        _temp.AddClass("cats", 5);

        var ex = Assert.Throws<MLTransferException>(() => DatasetLoader.Load(_temp.Root))!;

        Assert.That(ex.What, Does.Contain("'cats'").And.Contain("at least two"));
    }

    [Test]
    public void Load_ImagesDirectlyInRoot_ThrowsAskingForClassFolders()
    {
        _temp.AddFile("a.jpg");
        _temp.AddFile("b.jpg");

        var ex = Assert.Throws<MLTransferException>(() => DatasetLoader.Load(_temp.Root))!;

        Assert.That(ex.What, Does.Contain("directly in the dataset folder"));
        Assert.That(ex.Fix, Does.Contain("sub-folder per class"));
    }

    [Test]
    public void Load_EmptyClassFolder_IsSkippedWithWarning()
    {
        _temp.AddClass("cats", 2).AddClass("dogs", 2).AddClass("fish", 2);
        _temp.AddFolder("birds");
        _temp.AddFile("snakes/notes.txt");

        var dataset = DatasetLoader.Load(_temp.Root);

        Assert.That(dataset.ClassNames, Is.EqualTo(new[] { "cats", "dogs", "fish" }));
        Assert.That(dataset.Warnings, Has.Some.Contains("'birds'").And.Some.Contains("'snakes'"));
    }

    [Test]
    public void Load_EmptyClassFolderLeavingOneClass_Throws()
    {
        _temp.AddClass("cats", 2);
        _temp.AddFolder("dogs");

        var ex = Assert.Throws<MLTransferException>(() => DatasetLoader.Load(_temp.Root))!;

        Assert.That(ex.What, Does.Contain("'cats'"));
    }

    [Test]
    public void Load_GivenSplitWithTest_MapsFoldersToSplits()
    {
        _temp.AddClass("cats", 4, "train/").AddClass("dogs", 4, "train/")
            .AddClass("cats", 2, "validation/").AddClass("dogs", 2, "validation/")
            .AddClass("cats", 1, "test/").AddClass("dogs", 1, "test/");

        var dataset = DatasetLoader.Load(_temp.Root);

        Assert.That(dataset.Layout, Is.EqualTo(DatasetLayout.GivenSplit));
        Assert.That(dataset.ClassNames, Is.EqualTo(new[] { "cats", "dogs" }));
        Assert.That(Count(dataset, "cats", DatasetSplit.Train), Is.EqualTo(4));
        Assert.That(Count(dataset, "dogs", DatasetSplit.Validation), Is.EqualTo(2));
        Assert.That(Count(dataset, "cats", DatasetSplit.Test), Is.EqualTo(1));
        Assert.That(dataset.ValidationDoublesAsTest, Is.False);
    }

    [Test]
    public void Load_GivenSplitWithExtraClass_ThrowsNamingFolderAndClass()
    {
        _temp.AddClass("cats", 2, "train/").AddClass("dogs", 2, "train/")
            .AddClass("cats", 2, "val/").AddClass("dogs", 2, "val/").AddClass("wasps", 2, "val/");

        var ex = Assert.Throws<MLTransferException>(() => DatasetLoader.Load(_temp.Root))!;

        Assert.That(ex.What, Does.Contain("val/").And.Contain("'wasps'"));
        Assert.That(ex.Where, Is.EqualTo(_temp.PathOf("val")));
    }

    [Test]
    public void Load_GivenSplitWithMissingClass_ThrowsNamingFolderAndClass()
    {
        _temp.AddClass("cats", 2, "train/").AddClass("dogs", 2, "train/").AddClass("cats", 2, "test/");

        var ex = Assert.Throws<MLTransferException>(() => DatasetLoader.Load(_temp.Root))!;

        Assert.That(ex.What, Does.Contain("test/ lacks 'dogs'"));
    }

    [Test]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Load_UnreadableFolder_IsSkippedWithReason()
    {
        Assume.That(Environment.UserName, Is.Not.EqualTo("root"), "root can read any folder");
        if (OperatingSystem.IsWindows()) Assert.Ignore("Unix permissions only");
        _temp.AddClass("cats", 2).AddClass("dogs", 2);
        var locked = _temp.AddFolder("cats/locked");
        _temp.AddFile("cats/locked/x.jpg");
        File.SetUnixFileMode(locked, UnixFileMode.None);
        try
        {
            var dataset = DatasetLoader.Load(_temp.Root);
            Assert.That(dataset.Images, Has.Count.EqualTo(4));
            Assert.That(dataset.Skipped.Single().Reason, Does.StartWith("cannot read folder"));
        }
        finally
        {
            File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
