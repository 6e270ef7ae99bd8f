namespace Fabric.Protocols.Pcap;

/// <summary>
/// What <see cref="CaptureFileReader.ReadNext"/> found. Everything but <see cref="Packet"/> ends the
/// file: once returned, the same status is returned again by every later call, and
/// <see cref="CaptureFileReader.Problem"/> says in one line what was wrong and where.
/// Records returned before a damaged status are good and can be kept.
/// </summary>
public enum CaptureReadStatus
{
    /// <summary>A record was read.</summary>
    Packet,

    /// <summary>The file ended cleanly after a whole record.</summary>
    EndOfFile,

    /// <summary>The last record (or pcapng block) is torn: the file ends inside it.</summary>
    TruncatedRecord,

    /// <summary>A record or block length is beyond the reader's cap: the rest cannot be trusted.</summary>
    RecordTooLarge,

    /// <summary>A pcapng block is inconsistent (bad length, trailer mismatch, unknown interface, bad section header).</summary>
    MalformedBlock,
}
