using System.Globalization;
using Akka.Configuration;
using Fabric.Protocols.Decap;

namespace Fabric.Configuration;

/// <summary>
/// Reads a <c>fabric.decap</c>-shaped section (hocon/fabric.conf documents every key, with its default) into
/// <see cref="DecapOptions"/>. The section is read over the reference, so every key has a value: a missing
/// key takes fabric.conf's. Unknown keys and bad values throw <see cref="FabricConfigException"/> whose
/// message starts with the key's full HOCON path.
/// </summary>
public static class DecapSettings
{
    /// <summary>The default section path.</summary>
    public const string DefaultPath = "fabric.decap";

    private static readonly string[] KnownKeys =
    [
        "vxlan-ports", "vxlan-gpe-ports", "geneve-ports", "gre-in-udp-ports", "erspan-types",
        "max-depth", "erspan-vlan", "vxlan-reserved-bits", "non-encapsulated", "ip-in-ip",
        "synthesized-source-mac", "synthesized-destination-mac", "reassembly", "geneve",
    ];

    private static readonly string[] KnownGeneveKeys = ["unknown-critical-options"];

    private static readonly string[] KnownReassemblyKeys = ["max-bytes", "max-datagram-bytes", "max-datagrams", "timeout"];

    /// <summary>Reads <paramref name="path"/> (default <c>fabric.decap</c>) from <paramref name="config"/> over the reference.</summary>
    public static DecapOptions FromConfig(Config config, string path = DefaultPath)
    {
        ArgumentNullException.ThrowIfNull(config);
        config = FabricConfig.WithReference(config);
        return FromReader(ConfigReader.At(config, path).WithDefaults(ConfigReader.At(config, DefaultPath)));
    }

    /// <summary>
    /// Reads the object <paramref name="section"/> points at, which must hold every key (a section read over
    /// its defaults, e.g. a pipeline's own <c>decap</c> block over <c>fabric.decap</c>:
    /// <see cref="ConfigReader.WithDefaults"/>).
    /// </summary>
    public static DecapOptions FromReader(ConfigReader section)
    {
        ArgumentNullException.ThrowIfNull(section);
        section.RejectUnknownKeys(KnownKeys);
        var reassembly = section.GetObject("reassembly");
        reassembly.RejectUnknownKeys(KnownReassemblyKeys);
        var geneve = section.GetObject("geneve");
        geneve.RejectUnknownKeys(KnownGeneveKeys);
        var options = new DecapOptions
        {
            VxlanPorts = Ports(section, "vxlan-ports"),
            VxlanGpePorts = Ports(section, "vxlan-gpe-ports"),
            GenevePorts = Ports(section, "geneve-ports"),
            GreInUdpPorts = Ports(section, "gre-in-udp-ports"),
            AcceptedErspanTypes = ErspanTypesValue(section),
            MaxDepth = section.GetInt("max-depth", 1, PacketMetadata.MaxChain),
            ErspanVlan = section.GetEnum<ErspanVlanPolicy>("erspan-vlan"),
            VxlanReservedBits = section.GetEnum<ReservedBitsPolicy>("vxlan-reserved-bits"),
            NonEncapsulated = section.GetEnum<NonEncapsulatedPolicy>("non-encapsulated"),
            IpInIp = section.GetBool("ip-in-ip"),
            SynthesizedSourceMac = Mac(section, "synthesized-source-mac"),
            SynthesizedDestinationMac = Mac(section, "synthesized-destination-mac"),
            ReassemblyMaxBytes = (int)reassembly.GetByteSize("max-bytes", 576, 1 << 30),
            ReassemblyMaxDatagramBytes = (int)reassembly.GetByteSize("max-datagram-bytes", 576, 65535),
            ReassemblyMaxDatagrams = reassembly.GetInt("max-datagrams", 1, 65536),
            ReassemblyTimeout = reassembly.GetDuration("timeout", TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(10)),
            GeneveUnknownCriticalOptions = geneve.GetEnum<GeneveCriticalPolicy>("unknown-critical-options"),
        };

        var problem = options.Validate();
        if (problem is not null)
        {
            // Validate names the key first: "reassembly.max-bytes: must be ...".
            var colon = problem.IndexOf(':', StringComparison.Ordinal);
            throw new FabricConfigException(section.PathOf(problem[..colon]), problem[(colon + 1)..].TrimStart());
        }

        return options;
    }

    private static ushort[] Ports(ConfigReader section, string key)
    {
        var items = section.GetStringList(key);
        var ports = new ushort[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            if (!ushort.TryParse(items[i], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port == 0)
            {
                throw new FabricConfigException($"{section.PathOf(key)}[{i}]", $"expected a UDP port 1-65535, got \"{items[i]}\"");
            }

            ports[i] = port;
        }

        return ports;
    }

    private static ErspanTypes ErspanTypesValue(ConfigReader section)
    {
        const string key = "erspan-types";
        var items = section.GetStringList(key);
        var types = ErspanTypes.None;
        for (var i = 0; i < items.Count; i++)
        {
            types |= items[i].Trim().ToUpperInvariant() switch
            {
                "1" or "I" => ErspanTypes.TypeI,
                "2" or "II" => ErspanTypes.TypeII,
                "3" or "III" => ErspanTypes.TypeIII,
                _ => throw new FabricConfigException($"{section.PathOf(key)}[{i}]", $"expected 1, 2 or 3, got \"{items[i]}\""),
            };
        }

        return types;
    }

    private static MacAddress Mac(ConfigReader section, string key)
    {
        var text = section.GetString(key);
        return MacAddress.TryParse(text, out var mac)
            ? mac
            : throw section.Problem(key, $"expected a MAC address like 02:00:00:00:00:01, got \"{text}\"");
    }
}
