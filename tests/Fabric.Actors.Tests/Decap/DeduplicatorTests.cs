using Fabric.Actors.Decap;
using Xunit;

namespace Fabric.Actors.Tests.Decap;

public class DeduplicatorTests
{
    // Ethernet + IPv4 (TTL 64, checksum 0x1234) + UDP 1000 -> 2000, 4 payload bytes; built by hand.
    private static byte[] Frame(byte ttl = 64, ushort checksum = 0x1234, byte payload = 0xAA, ushort id = 1)
    {
        byte[] f =
        [
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00,
            0x45, 0, 0, 32, (byte)(id >> 8), (byte)id, 0, 0, ttl, 17, (byte)(checksum >> 8), (byte)checksum, 10, 0, 0, 1, 10, 0, 0, 2,
            0x03, 0xE8, 0x07, 0xD0, 0, 12, 0, 0,
            payload, payload, payload, payload,
        ];
        return f;
    }

    [Fact]
    public void A_copy_with_another_ttl_and_checksum_is_a_duplicate_within_the_window()
    {
        var dedup = new Deduplicator(TimeSpan.FromSeconds(2));
        Assert.False(dedup.IsDuplicate(Frame(), 1_000_000_000));
        Assert.True(dedup.IsDuplicate(Frame(ttl: 63, checksum: 0x1334), 1_500_000_000));
    }

    [Fact]
    public void A_copy_after_the_window_is_delivered()
    {
        var dedup = new Deduplicator(TimeSpan.FromSeconds(2));
        Assert.False(dedup.IsDuplicate(Frame(), 1_000_000_000));
        Assert.False(dedup.IsDuplicate(Frame(), 4_000_000_000));
    }

    [Fact]
    public void Packets_differing_in_ip_id_are_distinct()
    {
        var dedup = new Deduplicator(TimeSpan.FromSeconds(2));
        Assert.False(dedup.IsDuplicate(Frame(id: 1), 1));
        Assert.False(dedup.IsDuplicate(Frame(id: 2), 2));
        Assert.NotEqual(Deduplicator.Key(Frame(id: 1)), Deduplicator.Key(Frame(id: 2)));
    }

    [Fact]
    public void Key_ignores_payload_beyond_the_l4_header_as_arkime_does()
    {
        Assert.Equal(Deduplicator.Key(Frame(payload: 1)), Deduplicator.Key(Frame(payload: 2)));
    }

    [Fact]
    public void Truncated_frames_do_not_throw()
    {
        var frame = Frame();
        for (int length = 0; length <= frame.Length; length++)
        {
            Deduplicator.Key(frame.AsSpan(0, length));
        }
    }
}
