namespace Fabric.Protocols.Decap;

/// <summary>
/// Where the frame to emit is. For <see cref="DecapStatus.Ok"/> and
/// <see cref="DecapStatus.PassedThrough"/> the offset indexes the caller's buffer; for
/// <see cref="DecapStatus.Reassembled"/> and <see cref="DecapStatus.ReassembledPassedThrough"/>
/// it indexes <see cref="Decapsulator.ReassemblyBuffer"/> (use <see cref="Decapsulator.ReassembledFrame"/>).
/// </summary>
public readonly record struct DecapResult(int Offset, int Length, int OriginalLength)
{
    /// <summary>True when the capture holds fewer bytes than the frame had on the wire.</summary>
    public bool IsTruncated => Length < OriginalLength;
}

/// <summary>The link layer of the frames handed to the decapsulator.</summary>
public enum LinkLayer : byte
{
    /// <summary>DLT_EN10MB: Ethernet, optionally 802.1Q/802.1ad tagged.</summary>
    Ethernet = 0,
    /// <summary>DLT_RAW / LINKTYPE_RAW: an IPv4 or IPv6 packet with no link header.</summary>
    RawIp = 1,
}
