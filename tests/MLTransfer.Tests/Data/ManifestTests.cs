using MLTransfer.Data;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Data;

[TestFixture]
public class ManifestTests
{
    private TempDataset _temp = null!;

    [SetUp]
    public void SetUp() => _temp = new TempDataset();

    [TearDown]
    public void TearDown() => _temp.Dispose();

    private string WriteManifest(string name, string text)
    {
        var path = _temp.PathOf(name);
        File.WriteAllText(path, text);
        return path;
    }

    [Test]
    public void Csv_WithHeaderAndQuotedComma_ResolvesPathsAgainstManifestFolder()
    {
        _temp.AddFile("imgs/a, b.jpg");
        _temp.AddFile("imgs/say \"hi\".png");
        _temp.AddFile("imgs/c.jpg");
        var manifest = WriteManifest("list.csv",
            "path,label\r\n\"imgs/a, b.jpg\",cats\r\n\"imgs/say \"\"hi\"\".png\", cats \r\n\r\nimgs/c.jpg,dogs\r\n");

        var dataset = DatasetLoader.Load(manifest);

        Assert.That(dataset.Layout, Is.EqualTo(DatasetLayout.Manifest));
        Assert.That(dataset.ManifestPath, Is.EqualTo(manifest));
        Assert.That(dataset.Root, Is.EqualTo(_temp.Root));
        Assert.That(dataset.ClassNames, Is.EqualTo(new[] { "cats", "dogs" }));
        Assert.That(dataset.Images, Is.EqualTo(new[]
        {
            new LabeledImage(_temp.PathOf("imgs/a, b.jpg"), "cats"),
            new LabeledImage(_temp.PathOf("imgs/say \"hi\".png"), "cats"),
            new LabeledImage(_temp.PathOf("imgs/c.jpg"), "dogs"),
        }));
        Assert.That(dataset.Skipped, Is.Empty);
    }

    [Test]
    public void Tsv_ByExtension_AllowsCommasInPaths()
    {
        _temp.AddFile("x,1.jpg");
        _temp.AddFile("y.jpg");
        var manifest = WriteManifest("list.tsv", "x,1.jpg\tcats\ny.jpg\tdogs\n");

        var dataset = DatasetLoader.Load(manifest);

        Assert.That(dataset.Images.Select(i => (Path.GetFileName(i.Path), i.Label)),
            Is.EqualTo(new[] { ("x,1.jpg", "cats"), ("y.jpg", "dogs") }));
    }

    [Test]
    public void Tsv_DetectedByTabsInAnyFile()
    {
        _temp.AddFile("a/1.jpg");
        _temp.AddFile("b/2.jpg");
        var manifest = WriteManifest("labels.txt", "path\tlabel\na/1.jpg\tcats\nb/2.jpg\tdogs\n");

        var dataset = DatasetLoader.Load(manifest);

        Assert.That(dataset.Images, Has.Count.EqualTo(2));
        Assert.That(dataset.ClassNames, Is.EqualTo(new[] { "cats", "dogs" }));
    }

    [Test]
    public void EscapeAttempts_AreRefusedAndReported()
    {
        _temp.AddFile("ok/1.jpg");
        _temp.AddFile("ok/2.jpg");
        using var outside = new TempDataset();
        var secret = outside.AddFile("secret.jpg");
        File.CreateSymbolicLink(_temp.PathOf("ok/sneaky.jpg"), secret);
        var manifest = WriteManifest("m.csv", string.Join('\n',
            "ok/1.jpg,cats",
            "ok/2.jpg,dogs",
            "../../etc/passwd,cats",
            $"{secret},cats",
            "ok/../../escape.jpg,dogs",
            "ok/sneaky.jpg,dogs"));

        var dataset = DatasetLoader.Load(manifest);

        Assert.That(dataset.Images, Has.Count.EqualTo(2));
        Assert.That(dataset.Skipped, Has.Count.EqualTo(4));
        Assert.That(dataset.Skipped.Select(s => s.Reason), Is.All.Contains("refused"));
        Assert.That(dataset.Skipped.Select(s => s.Path),
            Is.EquivalentTo(new[] { "../../etc/passwd", secret, "ok/../../escape.jpg", "ok/sneaky.jpg" }));
    }

    [Test]
    public void MissingAndEmptyFiles_AreSkippedAndReported()
    {
        _temp.AddFile("1.jpg");
        _temp.AddFile("2.jpg");
        _temp.AddFile("empty.jpg", []);
        _temp.AddFile("notes.txt");
        var manifest = WriteManifest("m.csv", "1.jpg,cats\n2.jpg,dogs\ngone.jpg,cats\nempty.jpg,dogs\nnotes.txt,dogs\n1.jpg,dogs\nonly-a-path.jpg\n");

        var dataset = DatasetLoader.Load(manifest);

        Assert.That(dataset.Images, Has.Count.EqualTo(2));
        var reasons = dataset.Skipped.ToDictionary(s => Path.GetFileName(s.Path), s => s.Reason);
        Assert.That(reasons["gone.jpg"], Is.EqualTo("line 3: file not found"));
        Assert.That(reasons["empty.jpg"], Is.EqualTo("empty file (or not a regular file)"));
        Assert.That(reasons["notes.txt"], Does.Contain("not an image"));
        Assert.That(reasons["1.jpg"], Does.Contain("listed again (first on line 1 with label 'cats')"));
        Assert.That(reasons["only-a-path.jpg"], Does.Contain("expected 'path,label'"));
    }

    [Test]
    public void SplitColumn_IsHonouredAndKeptBySplitter()
    {
        foreach (var n in new[] { "a", "b", "c", "d", "e", "f" }) _temp.AddFile(n + ".jpg");
        var manifest = WriteManifest("m.csv",
            "path,label,split\na.jpg,cats,train\nb.jpg,dogs,TRAIN\nc.jpg,cats,val\nd.jpg,dogs,validation\ne.jpg,cats,test\nf.jpg,dogs,test\n");

        var dataset = DatasetLoader.Load(manifest);
        var split = DatasetSplitter.Split(dataset);

        Assert.That(dataset.HasGivenSplit, Is.True);
        Assert.That(split.IsGivenSplit, Is.True);
        Assert.That(split.Train.Select(i => Path.GetFileName(i.Path)), Is.EqualTo(new[] { "a.jpg", "b.jpg" }));
        Assert.That(split.Validation.Select(i => Path.GetFileName(i.Path)), Is.EqualTo(new[] { "c.jpg", "d.jpg" }));
        Assert.That(split.Test.Select(i => Path.GetFileName(i.Path)), Is.EqualTo(new[] { "e.jpg", "f.jpg" }));
    }

    [Test]
    public void SplitColumn_FilledOnlyOnSomeRows_Throws()
    {
        _temp.AddFile("a.jpg");
        _temp.AddFile("b.jpg");
        var manifest = WriteManifest("m.csv", "a.jpg,cats,train\nb.jpg,dogs\n");

        var ex = Assert.Throws<MLTransferException>(() => DatasetLoader.Load(manifest))!;

        Assert.That(ex.What, Does.Contain("line 2"));
    }

    [Test]
    public void UnclosedQuote_ThrowsNamingTheLine()
    {
        var manifest = WriteManifest("m.csv", "a.jpg,cats\n\"b.jpg,dogs\n");

        var ex = Assert.Throws<MLTransferException>(() => DatasetLoader.Load(manifest))!;

        Assert.That(ex.What, Does.Contain("line 2"));
        Assert.That(ex.Where, Is.EqualTo(manifest));
    }

    [Test]
    public void RealImagesListedInManifest_Load()
    {
        _temp.CopyShared("hymenoptera/train/ants/ant photos.jpg", "pics/ant photos.jpg");
        _temp.CopyShared("hymenoptera/val/ants/F.pergan.28(f).jpg", "pics/F.pergan.28(f).jpg");
        var manifest = WriteManifest("m.csv", "\"pics/ant photos.jpg\",ants\npics/F.pergan.28(f).jpg,bees\n");

        var dataset = DatasetLoader.Load(manifest);

        Assert.That(dataset.Images, Has.Count.EqualTo(2));
        Assert.That(dataset.Images.Select(i => new FileInfo(i.Path).Length), Is.All.GreaterThan(1000));
    }
}
