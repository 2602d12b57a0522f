using System.Numerics.Tensors;

namespace MLTransfer.Heads;

/// <summary>
/// The trained head: features are scaled to length <see cref="InputScale"/> (L2 normalisation, so the
/// backbone's activation scale does not matter), then dense layers with ReLU between them, then softmax.
/// With no hidden layer it is multinomial logistic regression; with hidden layers, an MLP.
/// </summary>
internal sealed class HeadNetwork
{
    internal HeadNetwork(IReadOnlyList<DenseLayer> layers, float inputScale)
    {
        if (layers.Count == 0)
            throw new ArgumentException("A head needs at least one layer.", nameof(layers));
        Layers = layers;
        InputScale = inputScale;
    }

    /// <summary>The layers, input side first; the last one produces the class logits.</summary>
    public IReadOnlyList<DenseLayer> Layers { get; }
    /// <summary>Length of the feature vector after normalisation (√featureSize, so each feature is of order 1).</summary>
    public float InputScale { get; }
    /// <summary>Width of the raw feature vector.</summary>
    public int InputSize => Layers[0].Inputs;
    /// <summary>Number of classes.</summary>
    public int ClassCount => Layers[^1].Outputs;

    /// <summary>A freshly initialised network (He-normal for ReLU layers, Glorot-uniform for the logits).</summary>
    public static HeadNetwork Create(int inputSize, IReadOnlyList<int> hiddenSizes, int classCount, Random random)
    {
        var sizes = new List<int> { inputSize };
        sizes.AddRange(hiddenSizes);
        sizes.Add(classCount);
        var layers = new List<DenseLayer>();
        for (var l = 0; l + 1 < sizes.Count; l++)
        {
            var layer = DenseLayer.Zero(sizes[l], sizes[l + 1]);
            var last = l + 2 == sizes.Count;
            if (last)
            {
                var limit = Math.Sqrt(6.0 / (layer.Inputs + layer.Outputs));
                for (var i = 0; i < layer.Weights.Length; i++)
                    layer.Weights[i] = (float)((random.NextDouble() * 2 - 1) * limit);
            }
            else
            {
                var std = Math.Sqrt(2.0 / layer.Inputs);
                for (var i = 0; i < layer.Weights.Length; i++)
                    layer.Weights[i] = (float)(Gaussian(random) * std);
            }
            layers.Add(layer);
        }
        return new HeadNetwork(layers, MathF.Sqrt(inputSize));
    }

    /// <summary>Features as the first layer sees them: scaled to length <see cref="InputScale"/> (a zero vector stays zero).</summary>
    public float[] Normalise(ReadOnlySpan<float> features)
    {
        if (features.Length != InputSize)
            throw new ArgumentException($"Expected {InputSize} features, got {features.Length}.", nameof(features));
        var result = features.ToArray();
        var norm = TensorPrimitives.Norm(features);
        if (norm > 0)
            TensorPrimitives.Multiply(result, InputScale / norm, result);
        return result;
    }

    /// <summary>Class probabilities for a raw feature vector.</summary>
    public float[] Predict(ReadOnlySpan<float> features) => PredictNormalised(Normalise(features));

    /// <summary>Class probabilities for a vector already passed through <see cref="Normalise"/>.</summary>
    public float[] PredictNormalised(ReadOnlySpan<float> x)
    {
        var a = x.ToArray();
        for (var l = 0; l < Layers.Count; l++)
        {
            var layer = Layers[l];
            var z = new float[layer.Outputs];
            for (var o = 0; o < z.Length; o++)
                z[o] = TensorPrimitives.Dot(layer.Row(o), a) + layer.Bias[o];
            if (l + 1 < Layers.Count)
                TensorPrimitives.Max(z, 0f, z);
            a = z;
        }
        TensorPrimitives.SoftMax(a, a);
        return a;
    }

    /// <summary>A deep copy (for keeping the best epoch).</summary>
    public HeadNetwork Clone() => new(Layers.Select(l => l.DeepCopy()).ToList(), InputScale);

    /// <summary>Zero-filled buffers shaped like the layers.</summary>
    internal DenseLayer[] ZeroLike() => Layers.Select(l => DenseLayer.Zero(l.Inputs, l.Outputs)).ToArray();

    /// <summary>
    /// Loss of a mini-batch and, when <paramref name="gradient"/> is given, its gradient (added to it).
    /// Loss = Σ wᵢ·CEᵢ / Σ wᵢ + (l2/2)·Σ‖W‖² (biases are not penalised), wᵢ = class weight of example i.
    /// </summary>
    /// <param name="x">Normalised feature vectors.</param>
    /// <param name="y">Class index per example.</param>
    /// <param name="batch">Indices into <paramref name="x"/> making up the batch.</param>
    /// <param name="classWeights">Weight per class, or null for all 1.</param>
    /// <param name="l2">L2 weight.</param>
    /// <param name="dropout">Probability of zeroing a hidden unit (inverted dropout); only used with <paramref name="random"/>.</param>
    /// <param name="random">Source of dropout masks, or null for no dropout.</param>
    /// <param name="gradient">Receives the gradient, or null.</param>
    /// <returns>The data term, the L2 term, and how many examples were classified right.</returns>
    internal (double DataLoss, double L2Loss, int Correct) LossAndGradient(IReadOnlyList<float[]> x, IReadOnlyList<int> y, ReadOnlySpan<int> batch,
        float[]? classWeights, float l2, float dropout, Random? random, DenseLayer[]? gradient)
    {
        var n = Layers.Count;
        double denominator = 0;
        foreach (var i in batch)
            denominator += classWeights?[y[i]] ?? 1f;
        var acts = new float[n][];        // input of layer l
        var derivs = new float[n][];      // d a_l / d z_{l-1} (ReLU gate × dropout factor), for l ≥ 1
        for (var l = 1; l < n; l++)
        {
            acts[l] = new float[Layers[l].Inputs];
            derivs[l] = new float[Layers[l].Inputs];
        }
        var logits = new float[ClassCount];
        var delta = new float[ClassCount];
        double loss = 0;
        var correct = 0;
        var keep = 1 - dropout;
        foreach (var i in batch)
        {
            acts[0] = x[i];
            for (var l = 0; l < n; l++)
            {
                var layer = Layers[l];
                var z = l + 1 < n ? acts[l + 1] : logits;
                for (var o = 0; o < layer.Outputs; o++)
                    z[o] = TensorPrimitives.Dot(layer.Row(o), acts[l]) + layer.Bias[o];
                if (l + 1 < n)
                {
                    var d = derivs[l + 1];
                    for (var o = 0; o < z.Length; o++)
                    {
                        var factor = z[o] > 0 ? 1f : 0f;
                        if (random is not null && dropout > 0)
                            factor = random.NextDouble() < dropout ? 0f : factor / keep;
                        d[o] = factor;
                        z[o] *= factor;
                    }
                }
            }
            var label = y[i];
            var max = TensorPrimitives.Max(logits);
            double sum = 0;
            for (var k = 0; k < logits.Length; k++)
                sum += Math.Exp(logits[k] - max);
            var logSum = max + Math.Log(sum);
            var w = (classWeights?[label] ?? 1f) / denominator;
            loss += w * (logSum - logits[label]);
            if (TensorPrimitives.IndexOfMax(logits) == label)
                correct++;
            if (gradient is null)
                continue;
            for (var k = 0; k < logits.Length; k++)
                delta[k] = (float)(w * (Math.Exp(logits[k] - logSum) - (k == label ? 1 : 0)));
            var current = delta;
            for (var l = n - 1; l >= 0; l--)
            {
                var layer = Layers[l];
                var g = gradient[l];
                for (var o = 0; o < layer.Outputs; o++)
                {
                    var row = g.Row(o);
                    TensorPrimitives.MultiplyAdd(acts[l], current[o], row, row);
                    g.Bias[o] += current[o];
                }
                if (l == 0)
                    break;
                var back = new float[layer.Inputs];
                for (var o = 0; o < layer.Outputs; o++)
                    TensorPrimitives.MultiplyAdd(layer.Row(o), current[o], back, back);
                TensorPrimitives.Multiply(back, derivs[l], back);
                current = back;
            }
        }
        double l2Loss = 0;
        if (l2 > 0)
        {
            for (var l = 0; l < n; l++)
            {
                var weights = Layers[l].Weights;
                l2Loss += 0.5 * l2 * TensorPrimitives.Dot(weights, weights);
                if (gradient is not null)
                    TensorPrimitives.MultiplyAdd(weights, l2, gradient[l].Weights, gradient[l].Weights);
            }
        }
        return (loss, l2Loss, correct);
    }

    private static double Gaussian(Random random)
    {
        // Box–Muller: System.Random has no normal sampler, and this keeps the draw sequence seed-determined.
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
