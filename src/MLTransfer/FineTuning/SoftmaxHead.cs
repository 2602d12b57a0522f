using System.Numerics.Tensors;

namespace MLTransfer.FineTuning;

/// <summary>
/// The head trained together with the top of the backbone: softmax regression on L2-normalised features,
/// the same model family and feature normalisation as the L-BFGS head (<see cref="Heads.HeadTrainer"/>),
/// so what the backbone learns to make separable is what the saved head sees.
/// </summary>
internal sealed class SoftmaxHead
{
    public SoftmaxHead(int features, int classes)
    {
        Features = features;
        Classes = classes;
        Weight = new Parameter("head.weight", [classes, features], new float[classes * features]);
        Bias = new Parameter("head.bias", [classes], new float[classes]);
    }

    public int Features { get; }
    public int Classes { get; }
    public Parameter Weight { get; }
    public Parameter Bias { get; }
    public IReadOnlyList<Parameter> Parameters => [Weight, Bias];

    /// <summary>Loss and accuracy of a batch, and optionally the backward pass.</summary>
    /// <param name="features">Feature vectors <c>[F, N, 1, 1]</c>.</param>
    /// <param name="labels">Class of each vector.</param>
    /// <param name="l2">Weight decay on the head's weights: adds <c>l2/2 · |W|²</c> to the mean cross-entropy.</param>
    /// <param name="backward">Whether to accumulate parameter gradients and return dLoss/dFeatures.</param>
    /// <returns>Mean cross-entropy (without the decay term), number correct, and the feature gradient when asked.</returns>
    public (double Loss, int Correct, Act? FeatureGrad) Run(Act features, IReadOnlyList<int> labels, float l2, bool backward)
    {
        if (features.C != Features || features.H != 1 || features.W != 1)
            throw new InvalidOperationException($"The head expects [{Features}] vectors, got {features.Shape}.");
        var n = features.N;
        var grad = backward ? features.ZerosLike() : null;
        var x = new float[Features];
        var z = new float[Features];
        var dz = new float[Features];
        var logits = new float[Classes];
        var p = new float[Classes];
        double loss = 0;
        var correct = 0;
        for (var s = 0; s < n; s++)
        {
            for (var f = 0; f < Features; f++)
                x[f] = features.Data[f * n + s];
            var norm = MathF.Sqrt(TensorPrimitives.SumOfSquares(x)) + 1e-12f;
            TensorPrimitives.Divide(x, norm, z);
            for (var k = 0; k < Classes; k++)
                logits[k] = Bias.Value[k] + TensorPrimitives.Dot(Weight.Value.AsSpan(k * Features, Features), z);
            TensorPrimitives.SoftMax(logits, p);
            var y = labels[s];
            loss -= Math.Log(Math.Max(p[y], 1e-30f));
            if (TensorPrimitives.IndexOfMax(p) == y)
                correct++;
            if (!backward)
                continue;

            Array.Clear(dz);
            for (var k = 0; k < Classes; k++)
            {
                var g = (p[k] - (k == y ? 1f : 0f)) / n;
                Bias.Grad[k] += g;
                var wRow = Weight.Value.AsSpan(k * Features, Features);
                var gRow = Weight.Grad.AsSpan(k * Features, Features);
                TensorPrimitives.MultiplyAdd(z, g, gRow, gRow);
                TensorPrimitives.MultiplyAdd(wRow, g, dz, dz);
            }
            // d(x/|x|)/dx: the gradient loses its component along z and is scaled by 1/|x|.
            var along = TensorPrimitives.Dot(z, dz);
            for (var f = 0; f < Features; f++)
                grad!.Data[f * n + s] = (dz[f] - z[f] * along) / norm;
        }
        if (backward && l2 > 0)
            TensorPrimitives.MultiplyAdd(Weight.Value, l2, Weight.Grad, Weight.Grad);
        return (loss / n, correct, grad);
    }

    public float[] Snapshot() => [.. Weight.Value, .. Bias.Value];

    public void Restore(float[] snapshot)
    {
        snapshot.AsSpan(0, Weight.Length).CopyTo(Weight.Value);
        snapshot.AsSpan(Weight.Length).CopyTo(Bias.Value);
    }
}
