using System.Text;
using MLTransfer.Data;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Data;

[TestFixture]
public class DatasetSplitterTests
{
    private TempDataset _temp = null!;

    [SetUp]
    public void SetUp() => _temp = new TempDataset();

    [TearDown]
    public void TearDown() => _temp.Dispose();

    private static Dataset Flowers() => DatasetLoader.Load(Path.Combine(TempDataset.SharedDatasets, "flowers"));

    private static IEnumerable<string> Paths(IEnumerable<LabeledImage> images) => images.Select(i => i.Path);

    [Test]
    public void Split_Flowers_IsStratifiedWithinOneImageOfTarget()
    {
        var split = DatasetSplitter.Split(Flowers());

        Assert.That(split.IsGivenSplit, Is.False);
        Assert.That(split.Counts, Has.Count.EqualTo(5));
        foreach (var c in split.Counts)
        {
            Assert.That(c.Total, Is.EqualTo(120));
            Assert.That(c.Validation, Is.InRange(17, 19), c.Label);
            Assert.That(c.Test, Is.InRange(17, 19), c.Label);
            Assert.That(c.Train, Is.InRange(83, 85), c.Label);
        }
    }

    [TestCase(3), TestCase(4), TestCase(7), TestCase(10), TestCase(13), TestCase(50), TestCase(101)]
    public void Split_OddClassSizes_StayWithinOneImageAndFillEverySplit(int size)
    {
        _temp.AddClass("a", size).AddClass("b", size + 1).AddClass("c", 40);
        var options = new SplitOptions(ValidationFraction: 0.2, TestFraction: 0.1, Seed: 7);

        var split = DatasetSplitter.Split(DatasetLoader.Load(_temp.Root), options);

        foreach (var c in split.Counts)
        {
            Assert.That(c.Train, Is.GreaterThanOrEqualTo(1), c.Label);
            Assert.That(c.Validation, Is.GreaterThanOrEqualTo(1), c.Label);
            Assert.That(c.Test, Is.GreaterThanOrEqualTo(1), c.Label);
            // Each held-out count is within one image of its exact share; train gives up one image for each
            // held-out split whose exact share is below one image (the at-least-one rule).
            Assert.That(Math.Abs(c.Validation - c.Total * 0.2), Is.LessThan(1.0), c.Label);
            Assert.That(Math.Abs(c.Test - c.Total * 0.1), Is.LessThan(1.0), c.Label);
            var bumps = (c.Total * 0.2 < 1 ? 1 : 0) + (c.Total * 0.1 < 1 ? 1 : 0);
            Assert.That(Math.Abs(c.Train - c.Total * 0.7), Is.LessThan(1.0 + bumps), c.Label);
        }
    }

    [Test]
    public void Split_SameSeed_GivesSameSplit_DifferentSeed_Differs()
    {
        var dataset = Flowers();

        var a = DatasetSplitter.Split(dataset, new SplitOptions(Seed: 1));
        var b = DatasetSplitter.Split(Flowers(), new SplitOptions(Seed: 1));
        var c = DatasetSplitter.Split(dataset, new SplitOptions(Seed: 2));

        Assert.That(Paths(b.Train), Is.EqualTo(Paths(a.Train)));
        Assert.That(Paths(b.Validation), Is.EqualTo(Paths(a.Validation)));
        Assert.That(Paths(b.Test), Is.EqualTo(Paths(a.Test)));
        Assert.That(Paths(c.Test), Is.Not.EquivalentTo(Paths(a.Test)));
        Assert.That(Paths(c.Validation), Is.Not.EquivalentTo(Paths(a.Validation)));
    }

    [Test]
    public void Split_DoesNotDependOnWhereTheDatasetLives()
    {
        _temp.AddClass("a", 20).AddClass("b", 20);
        using var copy = new TempDataset();
        copy.AddClass("a", 20).AddClass("b", 20);

        var first = DatasetSplitter.Split(DatasetLoader.Load(_temp.Root));
        var second = DatasetSplitter.Split(DatasetLoader.Load(copy.Root));

        Assert.That(first.Test.Select(i => Path.GetFileName(i.Path)), Is.EqualTo(second.Test.Select(i => Path.GetFileName(i.Path))));
    }

    [Test]
    public void Split_HasNoOverlapAndCoversEveryImage()
    {
        var dataset = Flowers();

        var split = DatasetSplitter.Split(dataset);

        var all = Paths(split.Train).Concat(Paths(split.Validation)).Concat(Paths(split.Test)).ToList();
        Assert.That(all, Is.Unique);
        Assert.That(all, Is.EquivalentTo(Paths(dataset.Images)));
        Assert.That(split.Train.All(i => i.Split == DatasetSplit.Train), Is.True);
        Assert.That(split.Test.All(i => i.Split == DatasetSplit.Test), Is.True);
    }

    [Test]
    public void Split_AddingAnUnrelatedFile_MovesFewExistingFiles()
    {
        _temp.AddClass("a", 100).AddClass("b", 100);
        var before = DatasetSplitter.Split(DatasetLoader.Load(_temp.Root));
        _temp.AddFile("a/new.jpg");
        var after = DatasetSplitter.Split(DatasetLoader.Load(_temp.Root));

        var oldSplit = before.Train.Concat(before.Validation).Concat(before.Test).ToDictionary(i => i.Path, i => i.Split);
        var moved = after.Train.Concat(after.Validation).Concat(after.Test)
            .Count(i => oldSplit.TryGetValue(i.Path, out var s) && s != i.Split);
        Assert.That(moved, Is.LessThanOrEqualTo(2));
    }

    [Test]
    public void Split_ClassTooSmall_ThrowsNamingClassCountAndNeed()
    {
        _temp.AddClass("big", 30).AddClass("tiny", 2);

        var ex = Assert.Throws<MLTransferException>(() => DatasetSplitter.Split(DatasetLoader.Load(_temp.Root)))!;

        Assert.That(ex.What, Does.Contain("class 'tiny' has 2 images").And.Contain("at least 3"));
        Assert.That(ex.What, Does.Not.Contain("'big'"));
        Assert.That(ex.Fix, Is.Not.Null);
    }

    [Test]
    public void Split_WithoutTestSet_NeedsOnlyTwoPerClass()
    {
        _temp.AddClass("a", 2).AddClass("b", 10);

        var split = DatasetSplitter.Split(DatasetLoader.Load(_temp.Root), new SplitOptions(TestFraction: 0));

        Assert.That(split.Test, Is.Empty);
        Assert.That(split.Counts[0], Is.EqualTo(new ClassSplitCounts("a", 1, 1, 0)));
        Assert.That(split.ValidationDoublesAsTest, Is.True);
    }

    [TestCase(-0.1, 0.1)]
    [TestCase(1.0, 0.0)]
    [TestCase(0.1, double.NaN)]
    [TestCase(0.6, 0.5)]
    [TestCase(0.5, 0.5)]
    public void Split_InvalidFractions_Throw(double validation, double test)
    {
        _temp.AddClass("a", 10).AddClass("b", 10);
        var dataset = DatasetLoader.Load(_temp.Root);

        var ex = Assert.Throws<MLTransferException>(() => DatasetSplitter.Split(dataset, new SplitOptions(validation, test)))!;

        Assert.That(ex.What, Does.Contain("fraction"));
    }

    [Test]
    public void Split_Hymenoptera_KeepsGivenSplitAndLeavesTestEmpty()
    {
        var split = DatasetSplitter.Split(DatasetLoader.Load(Path.Combine(TempDataset.SharedDatasets, "hymenoptera")));

        Assert.That(split.IsGivenSplit, Is.True);
        Assert.That(split.Options, Is.Null);
        Assert.That(split.Train, Has.Count.EqualTo(244));
        Assert.That(split.Validation, Has.Count.EqualTo(153));
        Assert.That(split.Test, Is.Empty);
        Assert.That(split.ValidationDoublesAsTest, Is.True);
        Assert.That(split.HeldOut, Is.SameAs(split.Validation));
        Assert.That(split.Counts, Is.EqualTo(new[]
        {
            new ClassSplitCounts("ants", 123, 70, 0),
            new ClassSplitCounts("bees", 121, 83, 0),
        }));
    }

    [Test]
    public void Split_DuplicateFiles_StayInOneSplitForEverySeed()
    {
        _temp.AddClass("cats", 12).AddClass("dogs", 12);
        // Real photo copied four times into one class: a classic scraped-dataset duplicate.
        var copies = new[] { "cats/p1.jpg", "cats/p2.jpg", "cats/sub/p3.jpg", "cats/p4.jpg" }
            .Select(p => _temp.CopyShared("flowers/daisy/" + FirstFlower("daisy"), p)).ToList();
        var dataset = DatasetLoader.Load(_temp.Root);

        for (var seed = 0; seed < 25; seed++)
        {
            var split = DatasetSplitter.Split(dataset, new SplitOptions(Seed: seed), ContentHasher.Sha256Of);

            var splitOf = split.Train.Concat(split.Validation).Concat(split.Test).ToDictionary(i => i.Path, i => i.Split);
            Assert.That(copies.Select(c => splitOf[c]).Distinct().Count(), Is.EqualTo(1), $"seed {seed}");
            Assert.That(split.Duplicates, Has.Count.EqualTo(1));
            Assert.That(split.Duplicates[0].Paths, Is.EquivalentTo(copies));
            Assert.That(split.Duplicates[0].HasConflictingLabels, Is.False);
            Assert.That(splitOf, Has.Count.EqualTo(dataset.Images.Count));
        }
    }

    [Test]
    public void Split_IdenticalFilesUnderDifferentLabels_AreWarnedAndKeptTogether()
    {
        _temp.AddClass("roses", 10).AddClass("tulips", 10);
        var same = Encoding.UTF8.GetBytes("the same bytes");
        var rose = _temp.AddFile("roses/dup.jpg", same);
        var tulip = _temp.AddFile("tulips/dup.jpg", same);

        var split = DatasetSplitter.Split(DatasetLoader.Load(_temp.Root), contentHash: ContentHasher.Sha256Of);

        var group = split.Duplicates.Single();
        Assert.That(group.HasConflictingLabels, Is.True);
        Assert.That(group.Labels, Is.EqualTo(new[] { "roses", "tulips" }));
        Assert.That(split.Warnings, Has.Some.Contains("different labels").And.Some.Contains(rose));
        var splitOf = split.Train.Concat(split.Validation).Concat(split.Test).ToDictionary(i => i.Path, i => i.Split);
        Assert.That(splitOf[rose], Is.EqualTo(splitOf[tulip]));
    }

    [Test]
    public void ContentHasher_MatchesKnownDigest_AndSkipsAFileItCannotRead()
    {
        var path = _temp.AddFile("abc.bin", Encoding.ASCII.GetBytes("abc"));
        var missing = _temp.PathOf("missing.bin");

        Assert.That(ContentHasher.Sha256Of(path), Is.EqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        var (hashes, unreadable) = ContentHasher.HashAll([path, missing], CancellationToken.None);
        Assert.That(hashes.Keys, Is.EqualTo(new[] { path }));
        Assert.That(unreadable, Is.EqualTo(new[] { new SkippedFile(missing, "file not found") }), "skipped with its reason, as extraction skips an undecodable image");
    }

    private static string FirstFlower(string label) =>
        Directory.GetFiles(Path.Combine(TempDataset.SharedDatasets, "flowers", label))
            .Select(Path.GetFileName).Order(StringComparer.Ordinal).First()!;
}
