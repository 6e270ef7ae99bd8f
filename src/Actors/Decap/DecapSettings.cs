using System.Globalization;
using Akka.Configuration;
using Fabric.Actors.Configuration;
using Fabric.Protocols.Decap;

namespace Fabric.Actors.Decap;

/// <summary>
/// Reads a <c>fabric.decap</c>-shaped section (hocon/fabric.conf documents every key) into
/// <see cref="DecapOptions"/>. Missing keys keep the defaults of <see cref="DecapOptions"/>,
/// which are those of fabric.conf. Unknown keys and bad values throw
/// <see cref="FabricConfigException"/> whose message starts with the key's full HOCON path.
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

    /// <summary>Reads <paramref name="path"/> (default <c>fabric.decap</c>) from <paramref name="config"/>.</summary>
    public static DecapOptions FromConfig(Config config, string path = DefaultPath)
        => FromReader(ConfigReader.At(config, path));

    /// <summary>
    /// Reads the object <paramref name="section"/> points at, e.g. a pipeline's own <c>decap</c>
    /// block (<c>fabric.pipelines[0].decap</c>) after merging it over <c>fabric.decap</c>.
    /// </summary>
    public static DecapOptions FromReader(ConfigReader section)
    {
        ArgumentNullException.ThrowIfNull(section);
        section.RejectUnknownKeys(KnownKeys);
        var options = new DecapOptions();
        options.VxlanPorts = Ports(section, "vxlan-ports", options.VxlanPorts);
        options.VxlanGpePorts = Ports(section, "vxlan-gpe-ports", options.VxlanGpePorts);
        options.GenevePorts = Ports(section, "geneve-ports", options.GenevePorts);
        options.GreInUdpPorts = Ports(section, "gre-in-udp-ports", options.GreInUdpPorts);
        options.AcceptedErspanTypes = ErspanTypesValue(section, options.AcceptedErspanTypes);
        if (section.Has("max-depth"))
        {
            options.MaxDepth = section.GetInt("max-depth", 1, PacketMetadata.MaxChain);
        }

        options.ErspanVlan = Choice(section, "erspan-vlan", options.ErspanVlan,
            ("metadata", ErspanVlanPolicy.Metadata), ("retag", ErspanVlanPolicy.Retag));
        options.VxlanReservedBits = Choice(section, "vxlan-reserved-bits", options.VxlanReservedBits,
            ("permissive", ReservedBitsPolicy.Permissive), ("strict", ReservedBitsPolicy.Strict));
        options.NonEncapsulated = Choice(section, "non-encapsulated", options.NonEncapsulated,
            ("drop", NonEncapsulatedPolicy.Drop), ("pass", NonEncapsulatedPolicy.Pass));
        if (section.Has("ip-in-ip"))
        {
            options.IpInIp = section.GetBool("ip-in-ip");
        }

        options.SynthesizedSourceMac = Mac(section, "synthesized-source-mac", options.SynthesizedSourceMac);
        options.SynthesizedDestinationMac = Mac(section, "synthesized-destination-mac", options.SynthesizedDestinationMac);

        var geneve = section.GetObject("geneve");
        geneve.RejectUnknownKeys(KnownGeneveKeys);
        options.GeneveUnknownCriticalOptions = Choice(geneve, "unknown-critical-options", options.GeneveUnknownCriticalOptions,
            ("forward", GeneveCriticalPolicy.Forward), ("drop", GeneveCriticalPolicy.Drop));

        var reassembly = section.GetObject("reassembly");
        reassembly.RejectUnknownKeys(KnownReassemblyKeys);
        if (reassembly.Has("max-bytes"))
        {
            options.ReassemblyMaxBytes = (int)reassembly.GetByteSize("max-bytes", 576, 1 << 30);
        }

        if (reassembly.Has("max-datagram-bytes"))
        {
            options.ReassemblyMaxDatagramBytes = (int)reassembly.GetByteSize("max-datagram-bytes", 576, 65535);
        }

        if (reassembly.Has("max-datagrams"))
        {
            options.ReassemblyMaxDatagrams = reassembly.GetInt("max-datagrams", 1, 65536);
        }

        if (reassembly.Has("timeout"))
        {
            options.ReassemblyTimeout = reassembly.GetDuration("timeout", TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(10));
        }

        var problem = options.Validate();
        if (problem is not null)
        {
            // Validate names the key first: "reassembly.max-bytes: must be ...".
            var colon = problem.IndexOf(':', StringComparison.Ordinal);
            throw new FabricConfigException(section.PathOf(problem[..colon]), problem[(colon + 1)..].TrimStart());
        }

        return options;
    }

    private static ushort[] Ports(ConfigReader section, string key, ushort[] fallback)
    {
        if (!section.Has(key))
        {
            return fallback;
        }

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

    private static ErspanTypes ErspanTypesValue(ConfigReader section, ErspanTypes fallback)
    {
        const string key = "erspan-types";
        if (!section.Has(key))
        {
            return fallback;
        }

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

    private static T Choice<T>(ConfigReader section, string key, T fallback, params (string Name, T Value)[] choices)
    {
        if (!section.Has(key))
        {
            return fallback;
        }

        var text = section.GetString(key);
        foreach (var (name, value) in choices)
        {
            if (string.Equals(name, text, StringComparison.Ordinal))
            {
                return value;
            }
        }

        throw section.Problem(key, $"expected {string.Join(" or ", choices.Select(c => c.Name))}, got \"{text}\"");
    }

    private static MacAddress Mac(ConfigReader section, string key, MacAddress fallback)
    {
        if (!section.Has(key))
        {
            return fallback;
        }

        var text = section.GetString(key);
        return MacAddress.TryParse(text, out var mac)
            ? mac
            : throw section.Problem(key, $"expected a MAC address like 02:00:00:00:00:01, got \"{text}\"");
    }
}
