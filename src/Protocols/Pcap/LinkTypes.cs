namespace Fabric.Protocols.Pcap;

/// <summary>
/// The LINKTYPE_ values Fabric meets (https://www.tcpdump.org/linktypes.html). The reader reports
/// any value; the caller decides what it supports.
/// </summary>
public static class LinkTypes
{
    /// <summary>LINKTYPE_ETHERNET: IEEE 802.3 Ethernet.</summary>
    public const uint Ethernet = 1;

    /// <summary>LINKTYPE_RAW: raw IPv4 or IPv6, version from the first nibble.</summary>
    public const uint Raw = 101;

    /// <summary>LINKTYPE_LINUX_SLL: Linux "cooked" capture v1.</summary>
    public const uint LinuxSll = 113;

    /// <summary>LINKTYPE_IPV4: raw IPv4.</summary>
    public const uint IPv4 = 228;

    /// <summary>LINKTYPE_IPV6: raw IPv6.</summary>
    public const uint IPv6 = 229;

    /// <summary>LINKTYPE_LINUX_SLL2: Linux "cooked" capture v2.</summary>
    public const uint LinuxSll2 = 276;

    /// <summary>A short name for messages ("ETHERNET", "RAW", or the number).</summary>
    public static string Name(uint linkType) => linkType switch
    {
        Ethernet => "ETHERNET",
        Raw => "RAW",
        LinuxSll => "LINUX_SLL",
        IPv4 => "IPV4",
        IPv6 => "IPV6",
        LinuxSll2 => "LINUX_SLL2",
        0 => "NULL",
        105 => "IEEE802_11",
        127 => "IEEE802_11_RADIOTAP",
        _ => linkType.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
