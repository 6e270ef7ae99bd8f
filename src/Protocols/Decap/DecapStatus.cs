namespace Fabric.Protocols.Decap;

/// <summary>
/// The outcome of decapsulating one frame, and of each header reader. Callers count packets by
/// status (one counter per value, indexed by <c>(int)status</c>; <see cref="DecapStatusInfo.Count"/>
/// is the array size). Names are meant for an operator reading a metrics page: they say which
/// header was wrong and how. Only <see cref="Ok"/>, <see cref="Reassembled"/>,
/// <see cref="PassedThrough"/> and <see cref="ReassembledPassedThrough"/> emit a frame
/// (<see cref="DecapStatusInfo.Emits"/>); <see cref="FragmentHeld"/> is neither good nor bad.
/// </summary>
public enum DecapStatus : byte
{
    // ---- frame emitted -------------------------------------------------------------------
    /// <summary>Tunnel peeled; the innermost Ethernet frame is in the caller's buffer.</summary>
    Ok = 0,
    /// <summary>An outer IP datagram was reassembled and peeled; the inner frame is in
    /// <see cref="Decapsulator.ReassembledFrame"/>, valid until the next call: copy it.</summary>
    Reassembled,
    /// <summary>Not a tunnel packet and the policy is <c>pass</c>: the frame is emitted unchanged.</summary>
    PassedThrough,
    /// <summary>A reassembled datagram was not a tunnel packet and the policy is <c>pass</c>: the
    /// whole reassembled frame is in <see cref="Decapsulator.ReassembledFrame"/>: copy it.</summary>
    ReassembledPassedThrough,

    // ---- nothing to emit yet -------------------------------------------------------------
    /// <summary>An outer IP fragment was stored for reassembly; nothing to emit yet.</summary>
    FragmentHeld,

    // ---- not a tunnel (dropped by the default policy) ------------------------------------
    /// <summary>No tunnel recognised (including ports not configured as tunnel ports) and the
    /// policy is <c>drop</c>.</summary>
    NotEncapsulated,

    // ---- generic -------------------------------------------------------------------------
    /// <summary>The captured bytes end inside a header (a short capture or a short packet).</summary>
    Truncated,
    /// <summary>More tunnel layers than <see cref="DecapOptions.MaxDepth"/>.</summary>
    TooDeep,
    /// <summary>The caller's offset/length/original length do not describe a frame in the buffer.</summary>
    BadInput,

    // ---- Ethernet ------------------------------------------------------------------------
    /// <summary>More stacked 802.1Q/802.1ad tags than the reader accepts (8).</summary>
    EthernetTooManyVlanTags,

    // ---- IPv4 ----------------------------------------------------------------------------
    /// <summary>An IPv4 header whose version field is not 4 (or an inner IP whose version does not
    /// match the protocol that announced it).</summary>
    IpBadVersion,
    /// <summary>IHL below 5 words or beyond the total length.</summary>
    Ipv4BadHeaderLength,
    /// <summary>Total length below the header length, or beyond the frame's wire length.</summary>
    Ipv4BadTotalLength,

    // ---- IPv6 ----------------------------------------------------------------------------
    /// <summary>More IPv6 extension headers than the reader walks (8).</summary>
    Ipv6TooManyExtensionHeaders,
    /// <summary>Payload length beyond the frame's wire length.</summary>
    Ipv6BadPayloadLength,

    // ---- IP fragments (outer datagrams of tunnel packets) ---------------------------------
    /// <summary>Fragments overlap or disagree on the datagram end: the datagram is discarded.</summary>
    FragmentOverlap,
    /// <summary>A fragment whose bytes were all received already (mirrors often duplicate): dropped,
    /// the datagram is kept.</summary>
    FragmentDuplicate,
    /// <summary>Offset plus length beyond 65535 bytes, or a non-last fragment not a multiple of 8.</summary>
    FragmentBadOffset,
    /// <summary>The datagram would exceed <see cref="DecapOptions.ReassemblyMaxDatagramBytes"/>
    /// or the memory budget <see cref="DecapOptions.ReassemblyMaxBytes"/>.</summary>
    FragmentTooLarge,
    /// <summary>Too many datagrams in reassembly (<see cref="DecapOptions.ReassemblyMaxDatagrams"/>)
    /// and none old enough to evict: the fragment is dropped.</summary>
    FragmentTableFull,
    /// <summary>A fragment whose capture is truncated cannot be reassembled.</summary>
    FragmentTruncatedCapture,

    // ---- UDP -----------------------------------------------------------------------------
    /// <summary>UDP length below 8 or beyond the IP payload.</summary>
    UdpBadLength,

    // ---- GRE -----------------------------------------------------------------------------
    /// <summary>GRE routing present bit (RFC 1701 source routing): deprecated, not decoded.</summary>
    GreRoutingUnsupported,
    /// <summary>GRE version 1 (PPTP enhanced GRE, RFC 2637) or any version other than 0.</summary>
    GreVersionUnsupported,
    /// <summary>A GRE protocol type that is not a tunnel payload Fabric decodes (PPP, WCCP, ARP,
    /// keepalives, Aruba, MPLS...).</summary>
    GreProtocolUnsupported,

    // ---- ERSPAN --------------------------------------------------------------------------
    /// <summary>The ERSPAN type (I, II or III) is not in <see cref="DecapOptions.AcceptedErspanTypes"/>.</summary>
    ErspanTypeNotAccepted,
    /// <summary>ERSPAN header version not 1 for type II (0x88BE) or not 2 for type III (0x22EB).</summary>
    ErspanBadVersion,
    /// <summary>ERSPAN III frame type other than 0 (Ethernet) or 2 (IP).</summary>
    ErspanFrameTypeUnsupported,

    // ---- VXLAN / VXLAN-GPE ---------------------------------------------------------------
    /// <summary>VXLAN I flag clear: no valid VNI (RFC 7348 section 5).</summary>
    VxlanInvalidFlags,
    /// <summary>VXLAN reserved bits set and the policy is <c>strict</c>.</summary>
    VxlanReservedBitsSet,
    /// <summary>VXLAN-GPE version field not 0.</summary>
    VxlanGpeBadVersion,
    /// <summary>VXLAN-GPE next protocol not Ethernet, IPv4 or IPv6 (NSH, MPLS...).</summary>
    VxlanGpeNextProtocolUnsupported,

    // ---- Geneve --------------------------------------------------------------------------
    /// <summary>Geneve version not 0 (RFC 8926 section 3.4).</summary>
    GeneveBadVersion,
    /// <summary>An option whose length runs past the options area (or a zero-length walk).</summary>
    GeneveBadOptionLength,
    /// <summary>Geneve protocol type not 0x6558, 0x0800 or 0x86DD.</summary>
    GeneveProtocolUnsupported,
    /// <summary>Geneve O (control) bit set: an OAM message, not data.</summary>
    GeneveControlPacket,

    // ---- inner frame ---------------------------------------------------------------------
    /// <summary>Retag or a synthesized Ethernet header needed more bytes in front of the inner
    /// payload than the outer headers left (never with real tunnels).</summary>
    NoRoomForHeader,

    // ---- IP payloads that get a synthesized Ethernet header (issue 15) -------------------
    /// <summary>A tunnel announced an IP payload (GRE 0x0800/0x86DD, Geneve or VXLAN-GPE IP,
    /// ERSPAN III frame type 2, IP-in-IP) and the payload is empty on the wire: nothing to emit.</summary>
    IpPayloadEmpty,
    /// <summary>That IP payload is shorter on the wire than an IP header (20 bytes for IPv4,
    /// IHL below 5 included; 40 for IPv6): not an IP packet, not emitted.</summary>
    IpPayloadTooShort,
    /// <summary>That IP payload's version nibble is not the version the tunnel announced
    /// (or neither 4 nor 6): not emitted.</summary>
    IpPayloadBadVersion,

    // ---- Geneve policy -------------------------------------------------------------------
    /// <summary>Geneve C bit with an option whose critical bit is set and whose class/type Fabric
    /// does not know, and the policy <c>geneve.unknown-critical-options</c> is <c>drop</c> (RFC 8926
    /// section 3.5: a tunnel endpoint MUST drop it). With <c>forward</c> the frame is emitted and
    /// <see cref="PacketMetadata.GeneveUnknownCritical"/> is set (counted as an event).</summary>
    GeneveUnknownCriticalOption,
}

/// <summary>Helpers over <see cref="DecapStatus"/>.</summary>
public static class DecapStatusInfo
{
    /// <summary>Number of <see cref="DecapStatus"/> values: the size of a counter array.</summary>
    public const int Count = (int)DecapStatus.GeneveUnknownCriticalOption + 1;

    private static readonly string[] Names = BuildNames();

    /// <summary>True when the call produced a frame the caller should forward.</summary>
    public static bool Emits(DecapStatus status) => status <= DecapStatus.ReassembledPassedThrough;

    /// <summary>True when the frame is in <see cref="Decapsulator.ReassembledFrame"/> (copy it).</summary>
    public static bool InReassemblyBuffer(DecapStatus status)
        => status is DecapStatus.Reassembled or DecapStatus.ReassembledPassedThrough;

    /// <summary>True for outcomes that mean a malformed or refused packet (not <c>NotEncapsulated</c>,
    /// not <c>FragmentHeld</c>, not an emitted frame).</summary>
    public static bool IsError(DecapStatus status) => status > DecapStatus.NotEncapsulated;

    /// <summary>Stable kebab-case name for metrics and console output, e.g. <c>gre-routing-unsupported</c>.</summary>
    public static string Name(DecapStatus status)
        => (uint)status < (uint)Names.Length ? Names[(int)status] : "unknown";

    private static string[] BuildNames()
    {
        var names = new string[Count];
        for (var i = 0; i < Count; i++)
        {
            var pascal = ((DecapStatus)i).ToString();
            var builder = new System.Text.StringBuilder(pascal.Length + 8);
            for (var c = 0; c < pascal.Length; c++)
            {
                var ch = pascal[c];
                if (char.IsUpper(ch))
                {
                    var prevLowerOrDigit = c > 0 && (char.IsLower(pascal[c - 1]) || char.IsDigit(pascal[c - 1]));
                    if (prevLowerOrDigit)
                    {
                        builder.Append('-');
                    }

                    builder.Append(char.ToLowerInvariant(ch));
                }
                else
                {
                    builder.Append(ch);
                }
            }

            names[i] = builder.ToString();
        }

        return names;
    }
}
