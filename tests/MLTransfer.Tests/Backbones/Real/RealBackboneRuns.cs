using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Images;
using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Backbones.Real;

/// <summary>Shared steps of the tests that train on real backbones: a small flowers subset, and scores before and after a save.</summary>
internal static class RealBackboneRuns
{
    public static readonly string[] FlowerClasses = ["daisy", "dandelion", "roses", "sunflowers", "tulips"];

    /// <summary>The first <paramref name="perClass"/> images (in name order) of each flowers class, copied into a temp folder.</summary>
    public static TempDataset FlowersSubset(int perClass)
    {
        var data = new TempDataset();
        foreach (var label in FlowerClasses)
        {
            var files = Directory.GetFiles(Path.Combine(TempDataset.SharedDatasets, "flowers", label)).Order(StringComparer.Ordinal).Take(perClass);
            foreach (var file in files)
                data.CopyShared(Path.Combine("flowers", label, Path.GetFileName(file)), Path.Combine(label, Path.GetFileName(file)));
        }
        return data;
    }

    private sealed class Input
    {
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
    }

    private sealed class Output
    {
        public float[] Score { get; set; } = [];
    }

    /// <summary>Scores of the in-memory chain (never saved) on images decoded exactly as ImageClassifier decodes them.</summary>
    public static float[][] InMemoryScores(TrainedModel model, IEnumerable<string> images)
    {
        var b = model.Metadata.Backbone;
        new ImageTypeAttribute(b.InputHeight, b.InputWidth).Register();
        var schema = SchemaDefinition.Create(typeof(Input));
        schema[nameof(Input.Image)].ColumnType = new ImageDataViewType(b.InputHeight, b.InputWidth);
        using var engine = model.Context.Model.CreatePredictionEngine<Input, Output>(model.Model, inputSchemaDefinition: schema);
        return images.Select(path =>
        {
            using var image = ImageDecoder.DecodeFile(path, b.InputWidth, b.InputHeight, b.ResizeMode).ToMLImage();
            return engine.Predict(new Input { Image = image }).Score.ToArray();
        }).ToArray();
    }

    /// <summary>Saves <paramref name="model"/>, reloads it, and checks the reloaded scores equal the in-memory ones within 1e-5.</summary>
    public static void SaveReloadAndCompare(TrainedModel model, string zip, IReadOnlyList<string> images)
    {
        var before = InMemoryScores(model, images);
        model.Save(zip);
        using var classifier = ImageClassifier.Load(zip);
        for (var i = 0; i < images.Count; i++)
        {
            var after = classifier.Predict(images[i], topK: 1).Probabilities.Select(p => p.Probability).ToArray();
            Assert.That(after, Is.EqualTo(before[i]).Within(1e-5f), $"{images[i]}: reloaded zip vs in-memory model");
        }
    }
}
