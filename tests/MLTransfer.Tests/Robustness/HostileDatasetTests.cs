using MLTransfer.Data;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Robustness;

/// <summary>
/// Hostile dataset layouts through <see cref="DatasetLoader"/> and <see cref="DatasetSplitter"/>: each one is
/// skipped and reported, warned about, or refused with a message naming the place and the fix.
/// </summary>
public class HostileDatasetTests
{
    private TempDataset _temp = null!;

    [SetUp]
    public void SetUp() => _temp = new TempDataset();

    [TearDown]
    public void TearDown() => _temp.Dispose();

    private string Manifest(string text)
    {
        var path = _temp.PathOf("labels.csv");
        File.WriteAllText(path, text);
        return path;
    }

    private static Dictionary<string, string> Reasons(Dataset d) =>
        d.Skipped.ToDictionary(s => s.Path, s => s.Reason);

    [Test]
    public void ZeroByteFile_IsSkippedAsEmpty()
    {
        _temp.AddClass("cats", 3).AddClass("dogs", 3);
        var empty = _temp.AddFile("cats/empty.jpg", []);
        var d = DatasetLoader.Load(_temp.Root);
        Assert.That(Reasons(d)[empty], Is.EqualTo("empty file (or not a regular file)"));
        Assert.That(d.Images.Select(i => i.Path), Does.Not.Contain(empty));
    }

    [Test]
    public void EmptyClassFolder_IsDroppedWithAWarning()
    {
        _temp.AddClass("cats", 3).AddClass("dogs", 3);
        _temp.AddFolder("birds");
        var d = DatasetLoader.Load(_temp.Root);
        Assert.That(d.ClassNames, Is.EqualTo(new[] { "cats", "dogs" }));
        Assert.That(d.Warnings, Has.Some.Contains("'birds' has no images"));
    }

    [Test]
    public void ClassWithOneImage_IsRefusedAtSplitNamingTheClassAndTheFix()
    {
        _temp.AddClass("cats", 10).AddClass("dogs", 1);
        var d = DatasetLoader.Load(_temp.Root);
        var e = Assert.Throws<MLTransferException>(() => DatasetSplitter.Split(d))!;
        Assert.That(e.What, Does.Contain("class 'dogs' has 1 image"));
        Assert.That(e.Where, Is.EqualTo(_temp.Root));
        Assert.That(e.Fix, Does.Contain("fraction to 0"));
        // The fix works: with no validation and test set, one image is enough to train on.
        Assert.That(() => DatasetSplitter.Split(d, new SplitOptions(0, 0)), Throws.Nothing);
    }

    [Test]
    public void SingleClass_IsRefusedNamingTheClass()
    {
        _temp.AddClass("cats", 5);
        var e = Assert.Throws<MLTransferException>(() => DatasetLoader.Load(_temp.Root))!;
        Assert.That(e.What, Does.Contain("Only one class found: 'cats'"));
        Assert.That(e.Fix, Does.Contain("Add a sub-folder"));
    }

    [Test]
    public void ExtremelyImbalancedClasses_AreWarnedAbout()
    {
        _temp.AddClass("cats", 44).AddClass("dogs", 4).AddClass("owls", 40);
        var d = DatasetLoader.Load(_temp.Root);
        var warning = d.Warnings.SingleOrDefault(w => w.Contains("imbalanced"));
        Assert.That(warning, Is.Not.Null, string.Join("\n", d.Warnings));
        Assert.That(warning, Does.Contain("'cats' has 44").And.Contain("'dogs' has 4").And.Contain("11:1"));
    }

    [Test]
    public void ModeratelyImbalancedClasses_AreNotWarnedAbout()
    {
        _temp.AddClass("cats", 40).AddClass("dogs", 4);
        var d = DatasetLoader.Load(_temp.Root);
        Assert.That(d.Warnings, Has.None.Contains("imbalanced"));
    }

    [Test]
    public void HiddenAndJunkFiles_NeverBecomeData()
    {
        _temp.AddClass("cats", 2).AddClass("dogs", 2);
        // Hidden files and the thumbnails/metadata some systems drop into every folder (including
        // macOS "._" resource forks, which carry an image extension but are not images) are ignored.
        _temp.AddFile("cats/._cat_000.jpg", "\0\u0005\u0016\u0007 Mac OS X resource fork"u8.ToArray());
        _temp.AddFile("cats/Thumbs.db");
        _temp.AddFile("dogs/.DS_Store");
        _temp.AddFile(".hidden/x.jpg");
        var d = DatasetLoader.Load(_temp.Root);
        Assert.That(d.Images.Select(i => Path.GetFileName(i.Path)), Has.None.StartsWith("."));
        Assert.That(d.Images, Has.Count.EqualTo(4));
        Assert.That(d.ClassNames, Is.EqualTo(new[] { "cats", "dogs" }));
        Assert.That(d.Skipped, Is.Empty);
    }

    [Test]
    public void NamesWithSpacesUnicodeAndBrackets_AreKeptExactly()
    {
        var odd = new[]
        {
            "chats noirs/photo (1) [copy].jpg",
            "chats noirs/Ünïcödé 日本語 ☃.jpg",
            "chats noirs/  leading spaces.jpg",
            "dogs [old]/a#b%c&d;e'f.jpg",
            "dogs [old]/{x} $y `z`.jpg",
        };
        foreach (var f in odd) _temp.AddFile(f);
        var d = DatasetLoader.Load(_temp.Root);
        Assert.That(d.Images.Select(i => i.Path), Is.EquivalentTo(odd.Select(_temp.PathOf)));
        Assert.That(d.ClassNames, Is.EqualTo(new[] { "chats noirs", "dogs [old]" }));
    }

    [Test]
    public void SymlinkLoops_AreReportedAndDoNotHang()
    {
        _temp.AddClass("cats", 2).AddClass("dogs", 2);
        Directory.CreateSymbolicLink(_temp.PathOf("cats/up"), _temp.PathOf("cats"));       // points at its own parent
        Directory.CreateSymbolicLink(_temp.PathOf("dogs/a"), _temp.PathOf("dogs/b"));      // a -> b -> a
        Directory.CreateSymbolicLink(_temp.PathOf("dogs/b"), _temp.PathOf("dogs/a"));
        File.CreateSymbolicLink(_temp.PathOf("dogs/x.jpg"), _temp.PathOf("dogs/y.jpg"));  // file link loop
        File.CreateSymbolicLink(_temp.PathOf("dogs/y.jpg"), _temp.PathOf("dogs/x.jpg"));

        var task = Task.Run(() => DatasetLoader.Load(_temp.Root));
        Assert.That(task.Wait(TimeSpan.FromSeconds(20)), Is.True, "discovery finished");
        var d = task.Result;
        Assert.That(d.Images, Has.Count.EqualTo(4), "each real image once");
        var reasons = Reasons(d);
        TestContext.Out.WriteLine(string.Join("\n", d.Skipped) + $"\nignored: {d.IgnoredFileCount}");
        Assert.That(reasons[_temp.PathOf("cats/up")], Does.Contain("already scanned"));
        // A cycle of links resolves to nothing, so it cannot even be told apart from a file: without an
        // image extension it is ignored like any other non-image file.
        Assert.That(d.IgnoredFileCount, Is.EqualTo(2), "dogs/a and dogs/b");
        Assert.That(reasons[_temp.PathOf("dogs/x.jpg")], Does.StartWith("cannot read file"));
    }

    [Test]
    public void ManifestRowsOutsideTheRoot_AreRefusedWithoutBeingRead()
    {
        _temp.AddClass("cats", 2).AddClass("dogs", 2);
        var outside = Path.Combine(Path.GetDirectoryName(_temp.Root)!, $"outside-{Guid.NewGuid():N}.jpg");
        File.WriteAllBytes(outside, [1, 2, 3]);
        try
        {
            File.CreateSymbolicLink(_temp.PathOf("cats/sneaky.jpg"), outside);
            var m = Manifest(
                "path,label\ncats/cats_000.jpg,cats\ncats/cats_001.jpg,cats\ndogs/dogs_000.jpg,dogs\ndogs/dogs_001.jpg,dogs\n" +
                "../../etc/passwd,cats\n/etc/passwd,dogs\ncats/../../" + Path.GetFileName(outside) + ",cats\ncats/sneaky.jpg,cats\n");
            var d = DatasetLoader.Load(m);
            var reasons = Reasons(d);
            Assert.That(reasons["../../etc/passwd"], Does.Contain("refused: the path points outside"));
            Assert.That(reasons["/etc/passwd"], Does.Contain("refused: the path points outside"));
            Assert.That(reasons["cats/../../" + Path.GetFileName(outside)], Does.Contain("refused"));
            Assert.That(reasons["cats/sneaky.jpg"], Does.Contain("refused: a symbolic link leads outside"));
            Assert.That(d.Images.Select(i => i.Path), Has.All.StartWith(_temp.Root + Path.DirectorySeparatorChar));
            Assert.That(d.Images, Has.Count.EqualTo(4));
        }
        finally { File.Delete(outside); }
    }

    [Test]
    public void ManifestRowsWithMissingFiles_AreSkippedWithTheLine()
    {
        _temp.AddClass("cats", 2).AddClass("dogs", 2);
        var m = Manifest("cats/cats_000.jpg,cats\ncats/cats_001.jpg,cats\ndogs/dogs_000.jpg,dogs\ndogs/gone.jpg,dogs\n");
        var d = DatasetLoader.Load(m);
        Assert.That(Reasons(d)["dogs/gone.jpg"], Is.EqualTo("line 4: file not found"));
    }

    [Test]
    public void ManifestLabelsWithoutTrainingRows_AreSkippedAndWarned()
    {
        // 'birds' appears only in the test split: a classifier cannot learn it, and scoring it would only
        // ever count as an error, so its rows leave the dataset with a reason instead of failing later.
        foreach (var n in new[] { "a", "b", "c", "d", "e", "f", "g" }) _temp.AddFile(n + ".jpg");
        var m = Manifest("path,label,split\na.jpg,cats,train\nb.jpg,dogs,train\nc.jpg,cats,test\nd.jpg,dogs,test\ne.jpg,birds,test\nf.jpg,birds,val\ng.jpg,cats,val\n");
        var d = DatasetLoader.Load(m);
        Assert.That(d.ClassNames, Is.EqualTo(new[] { "cats", "dogs" }));
        var reasons = Reasons(d);
        Assert.That(reasons["e.jpg"], Does.Contain("line 6").And.Contain("'birds'").And.Contain("no training rows"));
        Assert.That(reasons["f.jpg"], Does.Contain("line 7"));
        Assert.That(d.Warnings, Has.Some.Contains("'birds'"));
        Assert.That(DatasetSplitter.Split(d).Test.Select(i => i.Label), Has.None.EqualTo("birds"));
    }
}
