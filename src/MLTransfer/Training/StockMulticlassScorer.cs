using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace MLTransfer.Training;

/// <summary>
/// Gives a TransferImageClassification chain the output every ML.NET multiclass trainer has: a scalar key
/// <c>PredictedLabel</c> typed like the label (so <c>MapKeyToValue</c> turns it into the class name, and a
/// Model Builder-style <c>string PredictedLabel</c> binds), and <c>Score</c> with the class names as slot names.
/// </summary>
/// <remarks>
/// ML.NET's ONNX transform can only output vectors, and no stock transform turns a one-element vector into a
/// scalar; only a multiclass prediction transformer produces that output. So the head's logits go through a
/// stock maximum-entropy scorer whose weights are the identity (score = softmax(logits), the head's own
/// probabilities up to float rounding), which saves and loads as ordinary ML.NET components: the zip still
/// loads with plain <c>Model.Load</c>. ML.NET builds these only inside its trainers (the constructors are
/// internal), hence reflection; a test fails if an ML.NET update changes them.
/// </remarks>
internal static class StockMulticlassScorer
{
    /// <summary>
    /// A fitted multiclass prediction transformer reading <paramref name="logitsColumn"/> (float vector, one
    /// value per class) of <paramref name="schema"/>, whose <paramref name="labelColumn"/> is the key-typed label.
    /// </summary>
    /// <exception cref="MLTransferException">This ML.NET version builds its scorers differently.</exception>
    public static ITransformer Create(MLContext ml, DataViewSchema schema, string logitsColumn, string labelColumn,
        string scoreColumn, string predictedLabelColumn, IReadOnlyList<string> classNames)
    {
        var k = classNames.Count;
        var weights = new VBuffer<float>[k];
        for (var i = 0; i < k; i++)
        {
            var row = new float[k];
            row[i] = 1f;
            weights[i] = new VBuffer<float>(k, row);
        }
        try
        {
            var parameters = Construct(typeof(MaximumEntropyModelParameters),
                [typeof(VBuffer<float>[]), typeof(float[]), typeof(int), typeof(int), typeof(string[])],
                [ml, weights, new float[k], k, k, classNames.ToArray(), null]);
            return (ITransformer)Construct(typeof(MulticlassPredictionTransformer<MaximumEntropyModelParameters>),
                [typeof(MaximumEntropyModelParameters), typeof(DataViewSchema), typeof(string), typeof(string), typeof(string), typeof(string)],
                [ml, parameters, schema, logitsColumn, labelColumn, scoreColumn, predictedLabelColumn]);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw new MLTransferException($"ML.NET refused the multiclass scorer: {e.InnerException.Message.Split('\n')[0]}", labelColumn,
                "Check that the label column is a key made by MapValueToKey", e.InnerException);
        }
    }

    /// <summary>The internal constructor of <paramref name="type"/> whose parameters after the host environment start with <paramref name="leading"/>.</summary>
    private static object Construct(Type type, Type[] leading, object?[] arguments)
    {
        var ctor = type.GetConstructors(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public).FirstOrDefault(c =>
        {
            var p = c.GetParameters();
            return p.Length == arguments.Length && p[0].ParameterType.Name == "IHostEnvironment"
                && leading.Select((t, i) => p[i + 1].ParameterType == t).All(same => same);
        }) ?? throw new MLTransferException($"This ML.NET version ({typeof(MLContext).Assembly.GetName().Version}) has no {type.Name} constructor MLTransfer knows",
            null, "Use the ML.NET version MLTransfer was built with (see the package's dependencies)");
        return ctor.Invoke(arguments);
    }
}
