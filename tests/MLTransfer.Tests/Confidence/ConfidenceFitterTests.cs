using MLTransfer.Confidence;
using NUnit.Framework;

namespace MLTransfer.Tests.Confidence;

public class ConfidenceFitterTests
{
    [Test]
    public void Threshold_AcceptsAtLeastTheTargetShare_AndNoMore()
    {
        var scores = Enumerable.Range(1, 100).Select(i => i / 100f).Reverse().ToList();
        Assert.That(ConfidenceFitter.Threshold(scores, 0.95), Is.EqualTo(0.95f));
        Assert.That(ConfidenceFitter.Threshold(scores, 1), Is.EqualTo(1f));
        // 20 scores: 95% is 19 of them.
        var twenty = Enumerable.Range(1, 20).Select(i => (float)i).ToList();
        var t = ConfidenceFitter.Threshold(twenty, 0.95);
        Assert.That(twenty.Count(s => s <= t), Is.EqualTo(19));
        // 10 scores: 95% needs all 10 (9 would be 90%).
        Assert.That(ConfidenceFitter.Threshold(twenty.Take(10).ToList(), 0.95), Is.EqualTo(10f));
    }
}
