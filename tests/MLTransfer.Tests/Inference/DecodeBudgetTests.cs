using MLTransfer.Inference.Hosting;
using NUnit.Framework;

namespace MLTransfer.Tests.Inference;

/// <summary>The decode-memory limiter on its own: what fits, what is refused, and that nothing leaks.</summary>
public class DecodeBudgetTests
{
    [Test]
    public void Reservations_fit_until_the_capacity_then_are_refused_until_released()
    {
        var budget = new DecodeBudget(100);
        var a = budget.TryReserve(60);
        Assert.That(a, Is.Not.Null);
        Assert.That(budget.TryReserve(41), Is.Null, "60 + 41 is over 100");
        var b = budget.TryReserve(40);
        Assert.That(b, Is.Not.Null);
        Assert.That(budget.InUseBytes, Is.EqualTo(100));
        var e = Assert.Throws<DecodeBudgetExceededException>(() => budget.Reserve(1));
        Assert.That(e!.RetryAfter, Is.EqualTo(TimeSpan.FromSeconds(1)));
        Assert.That(e.Message, Does.Contain("decode budget").And.Contain("Send it again"));
        Assert.That(budget.Refusals, Is.EqualTo(2));

        a!.Dispose();
        a.Dispose(); // a second dispose must not release twice
        Assert.That(budget.InUseBytes, Is.EqualTo(40));
        b!.Dispose();
        Assert.That(budget.InUseBytes, Is.Zero);
        Assert.That(budget.PeakBytes, Is.EqualTo(100));
    }

    [Test]
    public void An_image_larger_than_the_whole_budget_runs_alone_rather_than_never()
    {
        var budget = new DecodeBudget(100);
        using (var small = budget.TryReserve(1))
            Assert.That(budget.TryReserve(1000), Is.Null, "not while anything else is decoding");
        var alone = budget.TryReserve(1000);
        Assert.That(alone, Is.Not.Null);
        Assert.That(budget.TryReserve(1), Is.Null, "and nothing else meanwhile");
        alone!.Dispose();
        Assert.That(budget.InUseBytes, Is.Zero);
        Assert.That(budget.TryReserve(0), Is.Not.Null, "an image refused before decoding costs nothing");
        Assert.Throws<ArgumentOutOfRangeException>(() => new DecodeBudget(0));
    }

    [Test]
    public void Concurrent_reservations_never_exceed_the_capacity()
    {
        var budget = new DecodeBudget(1000);
        Parallel.For(0, 20_000, i =>
        {
            using var r = budget.TryReserve(1 + i % 300);
        });
        Assert.That(budget.InUseBytes, Is.Zero);
        Assert.That(budget.PeakBytes, Is.LessThanOrEqualTo(1000));
    }
}
