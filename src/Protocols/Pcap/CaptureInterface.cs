namespace Fabric.Protocols.Pcap;

/// <summary>An interface described by the file (a pcapng IDB, or the classic file header).</summary>
/// <param name="LinkType">LINKTYPE_ value of the interface.</param>
/// <param name="SnapLength">Snapshot length declared for the interface (0 = unlimited in pcapng).</param>
/// <param name="TimestampResolution">Human-readable resolution ("1e-6", "1e-9", "2^-20").</param>
/// <param name="FinerThanMicroseconds">True when timestamps carry more than microseconds (worth a nanosecond pcap).</param>
public sealed record CaptureInterface(uint LinkType, uint SnapLength, string TimestampResolution, bool FinerThanMicroseconds);
