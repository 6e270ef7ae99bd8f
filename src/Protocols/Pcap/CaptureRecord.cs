namespace Fabric.Protocols.Pcap;

/// <summary>
/// One packet record as read from a capture file. <see cref="Data"/> points into the reader's own
/// buffer and is valid only until the next call to <see cref="CaptureFileReader.ReadNext"/>.
/// </summary>
public readonly ref struct CaptureRecord
{
    private readonly Span<byte> _data;

    public CaptureRecord(Span<byte> data, long timestampNs, int originalLength, uint linkType, int interfaceId)
    {
        _data = data;
        TimestampNs = timestampNs;
        OriginalLength = originalLength;
        LinkType = linkType;
        InterfaceId = interfaceId;
    }

    /// <summary>The captured bytes (length = captured length).</summary>
    public ReadOnlySpan<byte> Data => _data;

    /// <summary>
    /// The same bytes, writable: the record's slot in the reader's buffer belongs to the caller until
    /// the next read, so it may be rewritten in place (the decapsulator does, instead of copying).
    /// </summary>
    public Span<byte> WritableData => _data;

    /// <summary>Nanoseconds since the Unix epoch (UTC), after the interface's resolution and offset.</summary>
    public long TimestampNs { get; }

    /// <summary>Bytes captured (the length of <see cref="Data"/>).</summary>
    public int CapturedLength => Data.Length;

    /// <summary>Length of the packet on the wire; larger than the captured length when the capture was truncated.</summary>
    public int OriginalLength { get; }

    /// <summary>The LINKTYPE_ of the interface the record belongs to (see <see cref="LinkTypes"/>).</summary>
    public uint LinkType { get; }

    /// <summary>Interface index within the current pcapng section (always 0 for classic pcap).</summary>
    public int InterfaceId { get; }
}
