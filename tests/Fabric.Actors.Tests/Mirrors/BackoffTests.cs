using Fabric.Protocols;
using Xunit;

namespace Fabric.Actors.Tests.Mirrors;

/// <summary>The one backoff of the mirror agents, the supervisor's journal, OVSDB sessions and EC2 throttling.</summary>
public sealed class BackoffTests
{
    [Fact]
    public void Doubles_from_min_up_to_max_and_starts_again_after_a_reset()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5));
        var delays = Enumerable.Range(0, 9).Select(_ => backoff.Next().TotalMilliseconds).ToArray();
        Assert.Equal([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000], delays);
        Assert.Equal(9, backoff.Failures);
        backoff.Reset();
        Assert.Equal(TimeSpan.FromMilliseconds(100), backoff.Next());
    }

    [Fact]
    public void Many_failures_stay_at_max_without_overflow()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(10));
        for (var i = 0; i < 1000; i++)
        {
            Assert.InRange(backoff.Next(), TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(10));
        }

        Assert.Equal(TimeSpan.FromMinutes(10), backoff.Next());
        Assert.Equal(TimeSpan.FromMinutes(10), Backoff.Delay(TimeSpan.FromSeconds(1), 100, TimeSpan.FromMinutes(10)));
        Assert.Equal(TimeSpan.FromMilliseconds(1600), Backoff.Delay(TimeSpan.FromMilliseconds(200), 3, TimeSpan.MaxValue));
        Assert.Equal(TimeSpan.MaxValue, Backoff.Delay(TimeSpan.FromMilliseconds(200), 61, TimeSpan.MaxValue));
    }
}
