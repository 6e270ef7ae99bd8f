using Fabric.Actors.Capture;
using Fabric.Protocols.NodeStream;
using Xunit;

namespace Fabric.Actors.Tests.Capture;

/// <summary>A stream source's per-sender accounting (docs/stream-protocol.md, "Loss accounting").</summary>
public sealed class StreamStateTests
{
    /// <summary>Record <paramref name="sequence"/> of a sender whose every record holds 10 frames.</summary>
    private static StreamRecordHeader Record(ulong sequence) =>
        new(StreamCompression.None, 10, 7, sequence, (sequence - 1) * 10, 160, 160);

    [Fact]
    public void In_order_records_lose_nothing()
    {
        var state = new StreamSource.StreamState();
        for (ulong s = 1; s <= 5; s++)
        {
            Assert.True(state.Admit(Record(s), out long lost, out bool reordered));
            Assert.Equal((0L, false), (lost, reordered));
        }
    }

    [Fact]
    public void A_gap_counts_the_frames_of_the_missing_records_and_a_late_one_takes_its_frames_back()
    {
        var state = new StreamSource.StreamState();
        Assert.True(state.Admit(Record(1), out _, out _));
        Assert.True(state.Admit(Record(5), out long lost, out _));
        Assert.Equal(30, lost); // records 2, 3, 4

        Assert.True(state.Admit(Record(3), out lost, out bool reordered));
        Assert.Equal((-10L, true), (lost, reordered));
        Assert.False(state.Admit(Record(3), out lost, out _)); // twice: a duplicate
        Assert.Equal(0, lost);
        Assert.True(state.Admit(Record(2), out lost, out reordered));
        Assert.Equal((-10L, true), (lost, reordered));
        Assert.True(state.Admit(Record(4), out lost, out reordered));
        Assert.Equal((-10L, true), (lost, reordered));
        Assert.True(state.Admit(Record(6), out lost, out _));
        Assert.Equal(0, lost);
    }

    [Fact]
    public void A_record_sent_again_after_a_broken_connection_is_a_duplicate()
    {
        var state = new StreamSource.StreamState();
        Assert.True(state.Admit(Record(1), out _, out _));
        Assert.True(state.Admit(Record(2), out _, out _));
        Assert.False(state.Admit(Record(2), out long lost, out bool reordered));
        Assert.Equal((0L, false), (lost, reordered));
        Assert.False(state.Admit(Record(1), out _, out _));
    }
}
