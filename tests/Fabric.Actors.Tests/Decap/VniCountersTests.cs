using Fabric.Actors.Decap;
using Xunit;

namespace Fabric.Actors.Tests.Decap;

public sealed class VniCountersTests
{
    [Fact]
    public void Counts_each_vni_up_to_the_table_size_then_under_other()
    {
        var vnis = new VniCounters(2, []);
        Assert.True(vnis.Count(4242, 100));
        Assert.True(vnis.Count(4242, 50));
        Assert.True(vnis.Count(7, 60));
        Assert.True(vnis.Count(999, 70)); // third distinct VNI: beyond the table
        Assert.True(vnis.Count(4242, 10));
        Assert.True(vnis.Count(999, 30));

        var s = vnis.Snapshot();
        Assert.Equal([new VniCount(7, 1, 60, true), new VniCount(4242, 3, 160, true)], s.Vnis.ToArray());
        Assert.Equal((2L, 100L), (s.OtherPackets, s.OtherBytes));
        Assert.Equal(2, s.Tracked);
        Assert.Empty(s.Allowed);
    }

    [Fact]
    public void Allowed_vnis_always_have_a_row_and_only_they_pass()
    {
        var vnis = new VniCounters(1, [300, 100]);
        Assert.True(vnis.Restricted);
        Assert.False(vnis.Count(5, 10));    // learned, not allowed
        Assert.False(vnis.Count(6, 10));    // table of learned VNIs full: other, not allowed
        Assert.True(vnis.Count(100, 10));
        Assert.True(vnis.Count(300, 10));
        Assert.True(vnis.Count(300, 10));

        var s = vnis.Snapshot();
        Assert.Equal([new VniCount(5, 1, 10, false), new VniCount(100, 1, 10, true), new VniCount(300, 2, 20, true)], s.Vnis.ToArray());
        Assert.Equal(1, s.OtherPackets);
        Assert.Equal([100, 300], s.Allowed.ToArray());
    }

    [Fact]
    public void Vni_zero_and_the_largest_vni_are_distinct_rows_and_only_24_bits_count()
    {
        var vnis = new VniCounters(4, []);
        vnis.Count(0, 1);
        vnis.Count(16_777_215, 1);
        vnis.Count(0x1000000 | 5, 1); // a 32-bit value: its low 24 bits are the VNI
        Assert.Equal([0, 5, 16_777_215], vnis.Snapshot().Vnis.Select(v => v.Vni));
    }

    [Fact]
    public void Counting_allocates_nothing()
    {
        var vnis = new VniCounters(64, [1, 2, 3]);
        for (uint v = 0; v < 200; v++)
        {
            vnis.Count(v, 64); // fill the table and "other"
        }

        long least = long.MaxValue;
        for (int window = 0; window < 3; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100_000; i++)
            {
                vnis.Count((uint)(i % 300), 64);
            }

            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, least);
    }
}
