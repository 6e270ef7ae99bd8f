using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.Actors.Decap;

/// <summary>
/// Drops identical copies of an inner packet seen again within a time window, as a mirror of both the source
/// and the destination port of two VMs produces. Like Arkime's dedup, a packet is identified by its IP header
/// without the fields a router changes (IPv4 TTL and header checksum, IPv6 hop limit) plus its TCP/UDP/ICMP
/// header; non-IP frames by their first 128 bytes. Keys live in a fixed, 4-way set-associative table of 64-bit
/// hashes and times (no allocation; a full set forgets its oldest entry, so under pressure a duplicate may be
/// delivered, never a distinct packet dropped except on a 64-bit hash collision).
/// </summary>
public sealed class Deduplicator
{
    private const int Ways = 4;
    private const int MaxKeyBytes = 160;
    private const int NonIpKeyBytes = 128;
    private readonly ulong[] _hashes;
    private readonly long[] _times;
    private readonly int _setMask;
    private readonly long _windowNs;

    /// <param name="window">How long a packet is remembered (packet time).</param>
    /// <param name="entries">Table size; rounded up to a power of two, at least 64.</param>
    public Deduplicator(TimeSpan window, int entries = 65536)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        int sets = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(entries, 64) / Ways);
        _hashes = new ulong[sets * Ways];
        _times = new long[sets * Ways];
        _setMask = sets - 1;
        _windowNs = (long)(window.Ticks * 100);
    }

    /// <summary>True when the same packet was seen within the window before <paramref name="timestampNs"/>;
    /// otherwise remembers it and returns false.</summary>
    public bool IsDuplicate(ReadOnlySpan<byte> frame, long timestampNs)
    {
        ulong hash = Key(frame);
        int set = (int)(hash >> 40) & _setMask;
        int first = set * Ways;
        int oldest = first;
        for (int i = first; i < first + Ways; i++)
        {
            if (_hashes[i] == hash && _times[i] != 0)
            {
                long age = timestampNs - _times[i];
                if (age >= 0 && age <= _windowNs)
                {
                    return true;
                }

                _times[i] = timestampNs;
                return false;
            }

            if (_times[i] < _times[oldest])
            {
                oldest = i;
            }
        }

        _hashes[oldest] = hash;
        _times[oldest] = timestampNs == 0 ? 1 : timestampNs;
        return false;
    }

    /// <summary>The 64-bit identity of a frame (exposed for tests).</summary>
    public static ulong Key(ReadOnlySpan<byte> frame)
    {
        Span<byte> key = stackalloc byte[MaxKeyBytes];
        int position = 12;
        ushort etherType = frame.Length >= 14 ? BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) : (ushort)0;
        while ((etherType == 0x8100 || etherType == 0x88A8) && frame.Length >= position + 6)
        {
            position += 4;
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[position..]);
        }

        int ip = position + 2;
        int length;
        if (etherType == 0x0800 && frame.Length >= ip + 20 && (frame[ip] >> 4) == 4)
        {
            int headerLength = (frame[ip] & 0x0F) * 4;
            headerLength = Math.Clamp(headerLength, 20, Math.Min(60, frame.Length - ip));
            int l4 = L4HeaderLength(frame[ip + 9], frame[(ip + headerLength)..]);
            length = Math.Min(headerLength + l4, MaxKeyBytes);
            frame.Slice(ip, length).CopyTo(key);
            key[8] = 0;   // TTL
            key[10] = 0;  // header checksum
            key[11] = 0;
        }
        else if (etherType == 0x86DD && frame.Length >= ip + 40 && (frame[ip] >> 4) == 6)
        {
            int l4 = L4HeaderLength(frame[ip + 6], frame[(ip + 40)..]);
            length = Math.Min(40 + l4, MaxKeyBytes);
            frame.Slice(ip, length).CopyTo(key);
            key[7] = 0;   // hop limit
        }
        else
        {
            length = Math.Min(frame.Length, NonIpKeyBytes);
            frame[..length].CopyTo(key);
        }

        return Hash(key[..length], (uint)etherType);
    }

    private static int L4HeaderLength(byte protocol, ReadOnlySpan<byte> l4)
    {
        int length = protocol switch
        {
            6 => l4.Length >= 13 ? Math.Max(20, (l4[12] >> 4) * 4) : 20,
            17 or 1 or 58 => 8,
            _ => 0,
        };
        return Math.Min(length, l4.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Hash(ReadOnlySpan<byte> data, uint seed)
    {
        const ulong Prime = 0x9E3779B97F4A7C15UL;
        ulong h = (seed + (ulong)data.Length) * Prime;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8)
        {
            h = (h ^ BinaryPrimitives.ReadUInt64LittleEndian(data[i..])) * Prime;
            h ^= h >> 29;
        }

        ulong tail = 0;
        for (int shift = 0; i < data.Length; i++, shift += 8)
        {
            tail |= (ulong)data[i] << shift;
        }

        h = (h ^ tail) * Prime;
        h ^= h >> 32;
        h *= 0xC2B2AE3D27D4EB4FUL;
        h ^= h >> 29;
        return h == 0 ? 1 : h;
    }
}
