namespace Fabric.Protocols.Pcap;

/// <summary>The container a capture file uses.</summary>
public enum CaptureFileFormat
{
    /// <summary>Classic libpcap format (microsecond, nanosecond or Kuznetzov "modified" records).</summary>
    Pcap,

    /// <summary>pcapng (sections, interfaces, enhanced/simple packet blocks).</summary>
    PcapNg,
}
