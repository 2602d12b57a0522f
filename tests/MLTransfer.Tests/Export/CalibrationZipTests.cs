using System.IO.Compression;
using MLTransfer.Export;
using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Tests.Service;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Export;

/// <summary>
/// The calibration travels in the zip (metadata plus <c>MLTransfer/calibration.bin</c>) and is verified on load like
/// everything else: sizes before reading, the binary's numbers against the metadata's, so no edit of either part
/// alone changes a prediction or a verdict unnoticed.
/// </summary>
[TestFixture, NonParallelizable]
public class CalibrationZipTests
{
    private string _dir = "";
    private string _zip = "";
    private TrainedModel _model = null!;

    [OneTimeSetUp]
    public void TrainTiny()
    {
        _dir = Directory.CreateTempSubdirectory("mlt-calzip-").FullName;
        var backbone = TinyImages.WriteBackbone(_dir);
        _model = TransferLearner.Train(ServiceModels.SamplesDir, TinyImages.TrainingOptions(backbone, Path.Combine(_dir, "ws")));
        _zip = Path.Combine(_dir, "tiny.zip");
        _model.Save(_zip);
    }

    [OneTimeTearDown]
    public void Cleanup()
    {
        _model.Dispose();
        Directory.Delete(_dir, true);
    }

    private string Copy(string name)
    {
        var path = Path.Combine(_dir, name + ".zip");
        File.Copy(_zip, path, overwrite: true);
        return path;
    }

    private static void ReplaceEntry(string zipPath, byte[]? bytes)
    {
        using var zip = ZipFile.Open(zipPath, ZipArchiveMode.Update);
        zip.GetEntry(CalibrationEntry.Name)?.Delete();
        if (bytes is not null)
        {
            using var stream = zip.CreateEntry(CalibrationEntry.Name).Open();
            stream.Write(bytes);
        }
    }

    private static byte[] Entry(string zipPath)
    {
        using var zip = ZipFile.OpenRead(zipPath);
        using var stream = zip.GetEntry(CalibrationEntry.Name)!.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    [Test]
    public void SavedCalibration_LoadsAsTrained()
    {
        var trained = _model.Metadata.Calibration!;
        var loaded = ModelPackage.Load(ProcessTemp.NewMLContext(), _zip).Metadata.Calibration!;
        Assert.That(loaded.Temperature, Is.EqualTo(trained.Temperature));
        Assert.That(loaded.OutOfDomainThreshold, Is.EqualTo(trained.OutOfDomainThreshold));
        Assert.That(loaded.Reference!.Count, Is.EqualTo(_model.Report.Counts.Sum(c => c.Train)), "every training image is a reference");
        Assert.That(loaded.Reference.Reference.ToArray(), Is.EqualTo(trained.Reference!.Reference.ToArray()));
        Assert.That(ModelPackage.ReadMetadata(_zip).Calibration!.Reference, Is.Null, "reading the metadata alone does not read the features");
    }

    private static IEnumerable<TestCaseData> Edits()
    {
        TestCaseData Case(string name, Action<string> edit, string expected) => new TestCaseData(edit, expected).SetName(name);
        yield return Case("Temperature edited in the metadata", z => BrokenModelZips.EditMetadata(z, m => m["calibration"]!["temperature"] = 1.5), "temperature");
        yield return Case("Threshold edited in the metadata", z => BrokenModelZips.EditMetadata(z, m => m["calibration"]!["outOfDomainThreshold"] = 1.9), "out-of-domain threshold");
        yield return Case("Threshold removed from the metadata", z => BrokenModelZips.EditMetadata(z, m => m["calibration"]!["outOfDomainThreshold"] = null), "out-of-domain threshold");
        yield return Case("Neighbours edited in the metadata", z => BrokenModelZips.EditMetadata(z, m => m["calibration"]!["neighbours"] = 3), "k = 10");
        yield return Case("Reference count edited in the metadata", z => BrokenModelZips.EditMetadata(z, m => m["calibration"]!["referenceImages"] = 50), "reference vectors");
        yield return Case("Temperature out of range", z => BrokenModelZips.EditMetadata(z, m => m["calibration"]!["temperature"] = 1000), "outside 0.05..20");
        yield return Case("Unknown method", z => BrokenModelZips.EditMetadata(z, m => m["calibration"]!["outOfDomainMethod"] = "magic"), "not one this version knows");
        yield return Case("Calibration removed from the metadata", z => BrokenModelZips.EditMetadata(z, m => m.Remove("calibration")), "does not describe");
        yield return Case("Binary entry removed", z => ReplaceEntry(z, null), "has no MLTransfer/calibration.bin");
        yield return Case("Binary entry truncated", z => ReplaceEntry(z, Entry(z)[..^4]), "bytes;");
        yield return Case("Binary temperature changed", z =>
        {
            var bytes = Entry(z);
            System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(24), 2.0);
            ReplaceEntry(z, bytes);
        }, "temperature");
        yield return Case("Reference vector not unit length", z =>
        {
            var bytes = Entry(z);
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(40), 5f);
            ReplaceEntry(z, bytes);
        }, "not unit length");
        yield return Case("Reference value not a number", z =>
        {
            var bytes = Entry(z);
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(44), float.NaN);
            ReplaceEntry(z, bytes);
        }, "not a number");
    }

    [TestCaseSource(nameof(Edits))]
    public void AlteredCalibration_IsRefusedAtLoad_InOneLine(Action<string> edit, string expected)
    {
        var zip = Copy("edited");
        edit(zip);
        var e = Assert.Throws<MLTransferException>(() => ImageClassifier.Load(zip).Dispose())!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Message, Does.Contain(expected));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void ModelWithoutCalibration_StillLoads_WithTheHeadsOwnProbabilities()
    {
        // A zip written before calibration existed: neither the metadata field nor the entry.
        var zip = Copy("old");
        BrokenModelZips.EditMetadata(zip, m => m.Remove("calibration"));
        ReplaceEntry(zip, null);
        using var old = ImageClassifier.Load(zip);
        using var current = ImageClassifier.Load(_zip);
        var image = ServiceModels.SampleImages(1)[0].Path;
        var (p, q) = (old.Predict(image), current.Predict(image));
        Assert.That(p.OutOfDomainScore, Is.Null);
        Assert.That(p.IsConfident, Is.True, "nothing to judge it out of domain with");
        Assert.That(q.OutOfDomainScore, Is.Not.Null);
        Assert.That(p.Label, Is.EqualTo(q.Label), "a temperature never changes the ranking");
        var temperature = _model.Metadata.Calibration!.Temperature;
        var raw = p.Probabilities.Select(c => c.Probability).ToArray();
        Assert.That(q.Probabilities.Select(c => c.Probability), Is.EqualTo(MLTransfer.Confidence.TemperatureScaling.Apply(raw, temperature)).Within(1e-5f));
    }
}
