using System.Globalization;

namespace Fabric.Protocols.Decap;

/// <summary>ERSPAN types, as a set (<see cref="DecapOptions.AcceptedErspanTypes"/>).</summary>
[Flags]
public enum ErspanTypes : byte
{
    None = 0,
    /// <summary>GRE 0x88BE without the sequence bit: no ERSPAN header.</summary>
    TypeI = 1,
    /// <summary>GRE 0x88BE with the sequence bit: 8-byte header, version 1.</summary>
    TypeII = 2,
    /// <summary>GRE 0x22EB: 12-byte header, version 2, optional platform subheader.</summary>
    TypeIII = 4,
    All = TypeI | TypeII | TypeIII,
}

/// <summary>What to do with the ERSPAN VLAN field.</summary>
public enum ErspanVlanPolicy : byte
{
    /// <summary>Keep it aside in <see cref="PacketMetadata.ErspanVlan"/>; the inner frame is untouched.</summary>
    Metadata = 0,
    /// <summary>Also insert an 802.1Q tag with that VLAN (PCP = ERSPAN CoS) into the inner frame, as
    /// rcdcap does: for any type II En except 3 (the frame already carries its tag) and for type
    /// III; never with VLAN 0 (no VLAN to tell) nor when the inner frame carries a tag of its own.</summary>
    Retag = 1,
}

/// <summary>How to treat VXLAN reserved bits (RFC 7348 says receivers ignore them).</summary>
public enum ReservedBitsPolicy : byte
{
    /// <summary>Ignore reserved flag bits and reserved fields (RFC 7348 receiver rule).</summary>
    Permissive = 0,
    /// <summary>Refuse packets with any reserved bit set (<see cref="DecapStatus.VxlanReservedBitsSet"/>).</summary>
    Strict = 1,
}

/// <summary>What to do with frames that are not tunnel packets.</summary>
public enum NonEncapsulatedPolicy : byte
{
    /// <summary>Drop them and count them as <see cref="DecapStatus.NotEncapsulated"/>.</summary>
    Drop = 0,
    /// <summary>Emit them unchanged as <see cref="DecapStatus.PassedThrough"/>.</summary>
    Pass = 1,
}

/// <summary>What to do with a Geneve packet whose C bit is set and that carries a critical option
/// Fabric does not know (RFC 8926 section 3.5).</summary>
public enum GeneveCriticalPolicy : byte
{
    /// <summary>Emit it (a sensor wants to see what the tunnel carried) and count it as the event
    /// <c>geneve-unknown-critical-forwarded</c>.</summary>
    Forward = 0,
    /// <summary>Drop it as a tunnel endpoint must, counted as <see cref="DecapStatus.GeneveUnknownCriticalOption"/>.</summary>
    Drop = 1,
}

/// <summary>
/// Decapsulation policy (HOCON <c>fabric.decap</c>; see hocon/fabric.conf for every key). Policy
/// lives here, never in the header readers. A plain mutable class: build it, then hand it to
/// <see cref="Decapsulator"/>, which copies what it needs at construction.
/// </summary>
public sealed class DecapOptions
{
    /// <summary>UDP destination ports carrying VXLAN (RFC 7348: 4789; Linux kernel default: 8472).</summary>
    public ushort[] VxlanPorts { get; set; } = [4789, 8472];

    /// <summary>UDP destination ports carrying VXLAN-GPE (draft-ietf-nvo3-vxlan-gpe: 4790).</summary>
    public ushort[] VxlanGpePorts { get; set; } = [4790];

    /// <summary>UDP destination ports carrying Geneve (RFC 8926: 6081).</summary>
    public ushort[] GenevePorts { get; set; } = [6081];

    /// <summary>UDP destination ports carrying GRE-in-UDP (RFC 8086: 4754).</summary>
    public ushort[] GreInUdpPorts { get; set; } = [4754];

    /// <summary>ERSPAN types decapsulated; others are counted as <see cref="DecapStatus.ErspanTypeNotAccepted"/>.</summary>
    public ErspanTypes AcceptedErspanTypes { get; set; } = ErspanTypes.All;

    /// <summary>Maximum number of tunnel layers peeled from one frame (1-8).</summary>
    public int MaxDepth { get; set; } = 4;

    /// <summary>ERSPAN VLAN: metadata only, or also retag the inner frame.</summary>
    public ErspanVlanPolicy ErspanVlan { get; set; } = ErspanVlanPolicy.Metadata;

    /// <summary>VXLAN reserved bits: permissive (RFC 7348) or strict.</summary>
    public ReservedBitsPolicy VxlanReservedBits { get; set; } = ReservedBitsPolicy.Permissive;

    /// <summary>Frames that are not tunnel packets: drop (and count) or pass through.</summary>
    public NonEncapsulatedPolicy NonEncapsulated { get; set; } = NonEncapsulatedPolicy.Drop;

    /// <summary>Geneve C bit with an unknown critical option: forward (and count) or drop (and count).</summary>
    public GeneveCriticalPolicy GeneveUnknownCriticalOptions { get; set; } = GeneveCriticalPolicy.Forward;

    /// <summary>Decapsulate IP-in-IP (protocol 4) and IPv6-in-IP (protocol 41) as tunnels.</summary>
    public bool IpInIp { get; set; } = true;

    /// <summary>Source MAC of the Ethernet header synthesized in front of IP-only payloads.</summary>
    public MacAddress SynthesizedSourceMac { get; set; } = MacAddress.Parse("02:00:00:00:00:02");

    /// <summary>Destination MAC of the Ethernet header synthesized in front of IP-only payloads.</summary>
    public MacAddress SynthesizedDestinationMac { get; set; } = MacAddress.Parse("02:00:00:00:00:01");

    /// <summary>Memory budget for all datagrams in reassembly together, in bytes.</summary>
    public int ReassemblyMaxBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Largest datagram reassembled, in bytes (an IPv4 datagram is at most 65535).</summary>
    public int ReassemblyMaxDatagramBytes { get; set; } = 65535;

    /// <summary>Datagrams in reassembly at the same time.</summary>
    public int ReassemblyMaxDatagrams { get; set; } = 256;

    /// <summary>How long a partial datagram waits for its missing fragments (packet time).</summary>
    public TimeSpan ReassemblyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Checks the values; returns null when usable, else a one-line problem that starts with the
    /// kebab-case key name (e.g. <c>max-depth: must be 1-8, got 0</c>).
    /// </summary>
    public string? Validate()
    {
        if (MaxDepth is < 1 or > PacketMetadata.MaxChain)
        {
            return string.Create(CultureInfo.InvariantCulture, $"max-depth: must be 1-{PacketMetadata.MaxChain}, got {MaxDepth}");
        }

        if (ReassemblyMaxDatagramBytes is < 576 or > 65535)
        {
            return string.Create(CultureInfo.InvariantCulture, $"reassembly.max-datagram-bytes: must be 576-65535, got {ReassemblyMaxDatagramBytes}");
        }

        if (ReassemblyMaxBytes < ReassemblyMaxDatagramBytes || ReassemblyMaxBytes > 1 << 30)
        {
            return string.Create(CultureInfo.InvariantCulture, $"reassembly.max-bytes: must be between max-datagram-bytes ({ReassemblyMaxDatagramBytes}) and 1 GiB, got {ReassemblyMaxBytes}");
        }

        if (ReassemblyMaxDatagrams is < 1 or > 65536)
        {
            return string.Create(CultureInfo.InvariantCulture, $"reassembly.max-datagrams: must be 1-65536, got {ReassemblyMaxDatagrams}");
        }

        if (ReassemblyTimeout <= TimeSpan.Zero || ReassemblyTimeout > TimeSpan.FromMinutes(10))
        {
            return string.Create(CultureInfo.InvariantCulture, $"reassembly.timeout: must be above 0 and at most 10 minutes, got {ReassemblyTimeout}");
        }

        return ValidatePorts("vxlan-ports", VxlanPorts)
            ?? ValidatePorts("vxlan-gpe-ports", VxlanGpePorts)
            ?? ValidatePorts("geneve-ports", GenevePorts)
            ?? ValidatePorts("gre-in-udp-ports", GreInUdpPorts)
            ?? ValidateDistinct();
    }

    private static string? ValidatePorts(string key, ushort[]? ports)
    {
        if (ports is null)
        {
            return key + ": must be a list of UDP ports";
        }

        foreach (var port in ports)
        {
            if (port == 0)
            {
                return key + ": port 0 is not a UDP port";
            }
        }

        return null;
    }

    private string? ValidateDistinct()
    {
        var seen = new Dictionary<ushort, string>();
        foreach (var (key, ports) in new[]
                 {
                     ("vxlan-ports", VxlanPorts), ("vxlan-gpe-ports", VxlanGpePorts),
                     ("geneve-ports", GenevePorts), ("gre-in-udp-ports", GreInUdpPorts),
                 })
        {
            foreach (var port in ports)
            {
                if (seen.TryGetValue(port, out var other) && other != key)
                {
                    return string.Create(CultureInfo.InvariantCulture, $"{key}: port {port} is also listed in {other}");
                }

                seen[port] = key;
            }
        }

        return null;
    }
}

/// <summary>A 48-bit MAC address (value type, no allocation).</summary>
public readonly record struct MacAddress(ulong Value)
{
    /// <summary>Parses <c>aa:bb:cc:dd:ee:ff</c> (or with <c>-</c>); throws <see cref="FormatException"/>.</summary>
    public static MacAddress Parse(string text)
        => TryParse(text, out var mac) ? mac : throw new FormatException($"not a MAC address: \"{text}\"");

    /// <summary>Parses <c>aa:bb:cc:dd:ee:ff</c> (or with <c>-</c>).</summary>
    public static bool TryParse(string? text, out MacAddress mac)
    {
        mac = default;
        if (text is null || text.Length != 17)
        {
            return false;
        }

        ulong value = 0;
        for (var i = 0; i < 6; i++)
        {
            if (i > 0 && text[(i * 3) - 1] is not (':' or '-'))
            {
                return false;
            }

            if (!byte.TryParse(text.AsSpan(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                return false;
            }

            value = (value << 8) | b;
        }

        mac = new MacAddress(value);
        return true;
    }

    /// <summary>Writes the 6 bytes, network order.</summary>
    public void WriteTo(Span<byte> destination)
    {
        var v = Value;
        destination[5] = (byte)v;
        destination[4] = (byte)(v >> 8);
        destination[3] = (byte)(v >> 16);
        destination[2] = (byte)(v >> 24);
        destination[1] = (byte)(v >> 32);
        destination[0] = (byte)(v >> 40);
    }

    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture,
            $"{(byte)(Value >> 40):x2}:{(byte)(Value >> 32):x2}:{(byte)(Value >> 24):x2}:{(byte)(Value >> 16):x2}:{(byte)(Value >> 8):x2}:{(byte)Value:x2}");
}
