namespace Fabric.Protocols.Decap;

/// <summary>
/// One datagram in reassembly: its key, the data placed at fragment offsets, a bitmap of the
/// 8-byte units received (overlap and duplicate detection), the first fragment's headers.
/// The data buffer is allocated the first time the slot is used and reused afterwards.
/// </summary>
internal sealed class ReassemblySlot
{
    /// <summary>Most bytes kept of the first fragment's headers (link header, IP header, extension headers).</summary>
    public const int MaxPrefixLength = 512;

    private readonly int _capacity;
    private readonly ulong[] _units;
    private AddressBytes _source;
    private AddressBytes _destination;
    private uint _identification;
    private int _received;
    private int _maxEnd;
    private byte[]? _data;

    public ReassemblySlot(int capacity)
    {
        _capacity = capacity;
        _units = new ulong[((capacity + 7) / 8 + 63) / 64];
    }

    public bool InUse { get; set; }

    public byte Version { get; private set; }

    public byte Protocol { get; private set; }

    public long FirstSeen { get; private set; }

    /// <summary>Datagram data length, -1 until the last fragment arrived.</summary>
    public int Total { get; private set; }

    public byte[] Data => _data!;

    public byte[] Prefix { get; } = new byte[MaxPrefixLength];

    /// <summary>-1 until the first fragment (offset 0) arrived.</summary>
    public int PrefixLength { get; set; }

    public int IpOffset { get; set; }

    public int LinkFieldOffset { get; set; }

    public bool Complete => Total >= 0 && PrefixLength >= 0 && _received == Total;

    public bool Matches(byte version, byte protocol, uint identification, ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination)
    {
        if (Version != version || Protocol != protocol || _identification != identification)
        {
            return false;
        }

        ReadOnlySpan<byte> src = _source;
        ReadOnlySpan<byte> dst = _destination;
        return src[..source.Length].SequenceEqual(source) && dst[..destination.Length].SequenceEqual(destination);
    }

    public void Start(byte version, byte protocol, uint identification, ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, long timestamp)
    {
        InUse = true;
        Version = version;
        Protocol = protocol;
        _identification = identification;
        _source = default;
        _destination = default;
        source.CopyTo(_source);
        destination.CopyTo(_destination);
        FirstSeen = timestamp;
        Total = -1;
        PrefixLength = -1;
        _received = 0;
        _maxEnd = 0;
        Array.Clear(_units);
        _data ??= new byte[_capacity];
    }

    /// <summary>Places one fragment; FragmentHeld when stored, else the reason it was not.</summary>
    public DecapStatus Add(int offset, bool more, ReadOnlySpan<byte> data)
    {
        var end = offset + data.Length;
        if (!more)
        {
            if ((Total >= 0 && Total != end) || _maxEnd > end)
            {
                return DecapStatus.FragmentOverlap;
            }
        }
        else if (Total >= 0 && end > Total)
        {
            return DecapStatus.FragmentOverlap;
        }

        var first = offset >> 3;
        var last = (end + 7) >> 3;
        var seen = 0;
        for (var unit = first; unit < last; unit++)
        {
            if ((_units[unit >> 6] & (1UL << (unit & 63))) != 0)
            {
                seen++;
            }
        }

        if (seen == last - first)
        {
            return DecapStatus.FragmentDuplicate;
        }

        if (seen != 0)
        {
            return DecapStatus.FragmentOverlap;
        }

        for (var unit = first; unit < last; unit++)
        {
            _units[unit >> 6] |= 1UL << (unit & 63);
        }

        data.CopyTo(_data.AsSpan(offset));
        _received += data.Length;
        _maxEnd = Math.Max(_maxEnd, end);
        if (!more)
        {
            Total = end;
        }

        return DecapStatus.FragmentHeld;
    }
}
