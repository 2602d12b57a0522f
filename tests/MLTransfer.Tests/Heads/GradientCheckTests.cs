using MLTransfer.Heads;
using NUnit.Framework;

namespace MLTransfer.Tests.Heads;

/// <summary>The analytic gradient of the head's loss against central finite differences (in double-checked float).</summary>
public class GradientCheckTests
{
    [TestCase(new int[0], 0.3f, TestName = "Softmax + cross-entropy + L2")]
    [TestCase(new[] { 7 }, 0.05f, TestName = "MLP with ReLU + L2")]
    [TestCase(new[] { 6, 5 }, 0f, TestName = "Two hidden layers, no L2")]
    public void Analytic_gradient_matches_finite_differences(int[] hidden, float l2)
    {
        var data = HeadTestData.Blobs(perClass: 4, classes: 3, dims: 5, spread: 0.5, seed: 3);
        var network = HeadNetwork.Create(5, hidden, 3, new Random(11));
        // Non-zero biases so the check covers them too.
        foreach (var layer in network.Layers)
            for (var o = 0; o < layer.Outputs; o++)
                layer.Bias[o] = 0.1f * (o - 1);
        var x = data.Features.Select(f => network.Normalise(f)).ToList();
        var batch = Enumerable.Range(0, data.Count).ToArray();
        float[] classWeights = [1f, 2f, 0.5f];
        double Loss()
        {
            var (d, r, _) = network.LossAndGradient(x, data.Labels, batch, classWeights, l2, 0, null, null);
            return d + r;
        }
        var gradient = network.ZeroLike();
        network.LossAndGradient(x, data.Labels, batch, classWeights, l2, 0, null, gradient);

        var checkedCount = 0;
        for (var l = 0; l < network.Layers.Count; l++)
        {
            foreach (var (parameters, grads) in new[] { (network.Layers[l].Weights, gradient[l].Weights), (network.Layers[l].Bias, gradient[l].Bias) })
            {
                for (var i = 0; i < parameters.Length; i++)
                {
                    var original = parameters[i];
                    const float h = 1e-3f;
                    parameters[i] = original + h;
                    var plus = Loss();
                    parameters[i] = original - h;
                    var minus = Loss();
                    parameters[i] = original;
                    var numeric = (plus - minus) / (2 * h);
                    // ReLU kinks make a difference quotient wrong when a unit crosses zero within ±h; so rare here that none is allowed.
                    Assert.That(grads[i], Is.EqualTo(numeric).Within(2e-3 + 2e-2 * Math.Abs(numeric)), $"layer {l}, parameter {i}");
                    checkedCount++;
                }
            }
        }
        Assert.That(checkedCount, Is.GreaterThan(15));
    }
}
