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
    public void LabelsDifferingOnlyInCaseOrUnicodeForm_AreWarnedAboutNamingThem()
    {
        foreach (var n in new[] { "a", "b", "c", "d", "e", "f" }) _temp.AddFile(n + ".jpg");
        // "café" composed (U+00E9) and decomposed (e + U+0301) look identical but are different strings.
        var manifest = WriteManifest("m.csv", "a.jpg,DAISY\nb.jpg,daisy\nc.jpg,Daisy\nd.jpg,caf\u00e9\ne.jpg,cafe\u0301\nf.jpg,roses\n");

        var dataset = DatasetLoader.Load(manifest);

        Assert.That(dataset.ClassNames, Has.Count.EqualTo(6), "still loaded as written");
        Assert.That(dataset.Warnings, Has.One.Contains("'DAISY', 'Daisy' and 'daisy'").And.Contain("trained as 3 separate classes")
            .And.Contain("spell its label the same way"));
        Assert.That(dataset.Warnings, Has.One.Contains("'cafe\u0301' and 'caf\u00e9'").And.Contain("Unicode normalisation"));
        Assert.That(dataset.Warnings, Has.Count.EqualTo(2));
    }

    [Test]
    public void Semicolons_AreDetectedAsTheDelimiter_WithHeaderSplitColumnAndCrLf()
    {
        foreach (var n in new[] { "a", "b", "c", "d" }) _temp.AddFile($"imgs/{n}.jpg");
        // As a spreadsheet saves "CSV" where the comma is the decimal separator: .csv, semicolons, CRLF, a BOM.
        var manifest = WriteManifest("export.csv", "\uFEFFpath;label;split\r\nimgs/a.jpg;cats;train\r\nimgs/b.jpg;dogs;train\r\nimgs/c.jpg;cats;val\r\nimgs/d.jpg;dogs;val\r\n");

        var dataset = DatasetLoader.Load(manifest);

        Assert.That(dataset.Skipped, Is.Empty);
        Assert.That(dataset.ClassNames, Is.EqualTo(new[] { "cats", "dogs" }));
        Assert.That(dataset.Images.Select(i => (Path.GetFileName(i.Path), i.Label, i.Split)), Is.EqualTo(new (string, string, DatasetSplit?)[]
        {
            ("a.jpg", "cats", DatasetSplit.Train), ("b.jpg", "dogs", DatasetSplit.Train),
            ("c.jpg", "cats", DatasetSplit.Validation), ("d.jpg", "dogs", DatasetSplit.Validation),
        }));
    }

    [Test]
    public void SemicolonManifest_WhosePathsContainCommas_SplitsAtTheSemicolon()
    {
        _temp.AddFile("imgs/smith, john.jpg");
        _temp.AddFile("imgs/doe, jane.jpg");
        var manifest = WriteManifest("m.csv", "imgs/smith, john.jpg;cats\nimgs/doe, jane.jpg;dogs\n");

        var dataset = DatasetLoader.Load(manifest);

        Assert.That(dataset.Skipped, Is.Empty);
        Assert.That(dataset.Images.Select(i => (Path.GetFileName(i.Path), i.Label)),
            Is.EquivalentTo(new[] { ("smith, john.jpg", "cats"), ("doe, jane.jpg", "dogs") }));
    }

    [Test]
    public void CommaManifest_WhosePathsContainSemicolons_StillSplitsAtTheComma()
    {
        _temp.AddFile("imgs/a;b.jpg");
        _temp.AddFile("imgs/c;d;e.jpg");
        _temp.AddFile("imgs/f.jpg");
        var manifest = WriteManifest("m.csv", "imgs/a;b.jpg,cats\n\"imgs/c;d;e.jpg\",dogs\nimgs/f.jpg,dogs\n");

        var dataset = DatasetLoader.Load(manifest);

        Assert.That(dataset.Skipped, Is.Empty);
        Assert.That(dataset.Images.Select(i => (Path.GetFileName(i.Path), i.Label)),
            Is.EquivalentTo(new[] { ("a;b.jpg", "cats"), ("c;d;e.jpg", "dogs"), ("f.jpg", "dogs") }));
    }

    [Test]
    public void UnknownDelimiter_IsAClearErrorNotAboutExtensions()
    {
        _temp.AddFile("a.jpg");
        _temp.AddFile("b.jpg");
        var manifest = WriteManifest("m.csv", "a.jpg|cats\nb.jpg|dogs\n");

        var ex = Assert.Throws<MLTransferException>(() => DatasetLoader.Load(manifest))!;

        Assert.That(ex.What, Does.Contain("two columns").And.Contain("commas, semicolons or tabs"));
        Assert.That(ex.Where, Is.EqualTo(manifest));
        Assert.That(ex.Message, Does.Not.Contain("extension"));
    }

    [Test]
    public void LabelsThatAreBlankOrHoldControlCharacters_AreSkippedWithAPrintableReason()
    {
        foreach (var n in new[] { "a", "b", "c", "d", "e" }) _temp.AddFile(n + ".jpg");
        var manifest = WriteManifest("m.csv", "a.jpg,cats\nb.jpg,dogs\nc.jpg,\"ca\nts\"\nd.jpg,\" \"\ne.jpg,do\0gs\n");

        var dataset = DatasetLoader.Load(manifest);

        Assert.That(dataset.ClassNames, Is.EqualTo(new[] { "cats", "dogs" }));
        var reasons = dataset.Skipped.ToDictionary(s => s.Path, s => s.Reason);
        Assert.That(reasons["c.jpg"], Is.EqualTo("line 3: the label 'ca\\x0Ats' contains control characters (tab, line break, NUL...)"));
        Assert.That(reasons["d.jpg"], Is.EqualTo("line 5: the label is blank"));
        Assert.That(reasons["e.jpg"], Does.Contain("'do\\x00gs'"));
    }

    [Test]
    public void LongRunsOfQuotesInsideAField_ParseInLinearTime()
    {
        _temp.AddFile("a.jpg");
        _temp.AddFile("b.jpg");
        // Each quote inside an unquoted field used to copy the whole field so far: 200 000 quotes took minutes.
        var manifest = WriteManifest("m.csv", "a.jpg,cats\nb.jpg,dogs\nc" + new string('"', 200_000) + ".jpg,cats\n");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var dataset = DatasetLoader.Load(manifest);

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
        Assert.That(dataset.Images, Has.Count.EqualTo(2));
        Assert.That(dataset.Skipped.Single().Reason, Is.EqualTo("line 3: file not found"));
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
