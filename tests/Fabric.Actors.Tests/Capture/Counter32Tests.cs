using Fabric.Actors.Capture;

namespace Fabric.Actors.Tests.Capture;

public sealed class Counter32Tests
{
    [Fact]
    public void Follows_a_counter_that_does_not_wrap()
    {
        var counter = new Counter32();
        Assert.Equal(10, counter.Sample(10));
        Assert.Equal(10, counter.Sample(10));
        Assert.Equal(1_000_000, counter.Sample(1_000_000));
    }

    [Fact]
    public void Keeps_counting_past_the_32_bit_wrap()
    {
        var counter = new Counter32();
        counter.Sample(uint.MaxValue - 99);
        // libpcap's u_int wrapped: 100 packets up to the wrap, 50 after it.
        Assert.Equal((long)uint.MaxValue - 99 + 150, counter.Sample(50));
        // Round again: up to uint.MaxValue, then 8 more (MaxValue -> 0 is one step) to 7.
        Assert.Equal(2L * uint.MaxValue + 1, counter.Sample(uint.MaxValue));
        Assert.Equal(2L * uint.MaxValue + 1 + 8, counter.Sample(7));
    }
}
