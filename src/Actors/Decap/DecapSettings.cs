using System.Globalization;
using Akka.Configuration;
using Fabric.Actors.Configuration;
using Fabric.Protocols.Decap;

namespace Fabric.Actors.Decap;

/// <summary>
/// Reads the <c>fabric.decap</c> section (hocon/fabric.conf documents every key) into
/// <see cref="DecapOptions"/>. A bad value throws <see cref="FabricConfigException"/> whose
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
        "synthesized-source-mac", "synthesized-destination-mac", "reassembly",
    ];

    private static readonly string[] KnownReassemblyKeys = ["max-bytes", "max-datagram-bytes", "max-datagrams", "timeout"];

    /// <summary>
    /// Reads <paramref name="path"/> (default <c>fabric.decap</c>) from <paramref name="config"/>.
    /// Missing keys take the defaults of <see cref="DecapOptions"/>, which are those of fabric.conf.
    /// A pipeline's own <c>decap</c> block can be read by passing its path, e.g.
    /// <c>fabric.pipelines[0].decap</c>, after merging it over <c>fabric.decap</c>.
    /// </summary>
    public static DecapOptions FromConfig(Config config, string path = DefaultPath)
    {
        ArgumentNullException.ThrowIfNull(config);
        var options = new DecapOptions();
        if (!config.HasPath(path))
        {
            return options;
        }

        var section = config.GetConfig(path);
        if (section is null || section.IsEmpty)
        {
            return options;
        }

        RejectUnknown(section, path, KnownKeys);

        options.VxlanPorts = Ports(section, path, "vxlan-ports", options.VxlanPorts);
        options.VxlanGpePorts = Ports(section, path, "vxlan-gpe-ports", options.VxlanGpePorts);
        options.GenevePorts = Ports(section, path, "geneve-ports", options.GenevePorts);
        options.GreInUdpPorts = Ports(section, path, "gre-in-udp-ports", options.GreInUdpPorts);
        options.AcceptedErspanTypes = ErspanTypesValue(section, path, options.AcceptedErspanTypes);
        options.MaxDepth = Int(section, path, "max-depth", options.MaxDepth, 1, PacketMetadata.MaxChain);
        options.ErspanVlan = Choice(section, path, "erspan-vlan", options.ErspanVlan,
            ("metadata", ErspanVlanPolicy.Metadata), ("retag", ErspanVlanPolicy.Retag));
        options.VxlanReservedBits = Choice(section, path, "vxlan-reserved-bits", options.VxlanReservedBits,
            ("permissive", ReservedBitsPolicy.Permissive), ("strict", ReservedBitsPolicy.Strict));
        options.NonEncapsulated = Choice(section, path, "non-encapsulated", options.NonEncapsulated,
            ("drop", NonEncapsulatedPolicy.Drop), ("pass", NonEncapsulatedPolicy.Pass));
        options.IpInIp = Bool(section, path, "ip-in-ip", options.IpInIp);
        options.SynthesizedSourceMac = Mac(section, path, "synthesized-source-mac", options.SynthesizedSourceMac);
        options.SynthesizedDestinationMac = Mac(section, path, "synthesized-destination-mac", options.SynthesizedDestinationMac);

        if (section.HasPath("reassembly"))
        {
            var rpath = path + ".reassembly";
            var reassembly = section.GetConfig("reassembly");
            if (reassembly is not null && !reassembly.IsEmpty)
            {
                RejectUnknown(reassembly, rpath, KnownReassemblyKeys);
                options.ReassemblyMaxBytes = Int(reassembly, rpath, "max-bytes", options.ReassemblyMaxBytes, 576, 1 << 30);
                options.ReassemblyMaxDatagramBytes = Int(reassembly, rpath, "max-datagram-bytes", options.ReassemblyMaxDatagramBytes, 576, 65535);
                options.ReassemblyMaxDatagrams = Int(reassembly, rpath, "max-datagrams", options.ReassemblyMaxDatagrams, 1, 65536);
                options.ReassemblyTimeout = Duration(reassembly, rpath, "timeout", options.ReassemblyTimeout);
            }
        }

        var problem = options.Validate();
        if (problem is not null)
        {
            var colon = problem.IndexOf(':', StringComparison.Ordinal);
            throw new FabricConfigException(path + "." + problem[..colon], problem[(colon + 1)..].TrimStart());
        }

        return options;
    }

    private static void RejectUnknown(Config section, string path, string[] known)
    {
        foreach (var entry in section.Root.GetObject().Items)
        {
            if (Array.IndexOf(known, entry.Key) < 0)
            {
                throw new FabricConfigException(path + "." + entry.Key,
                    "unknown key (known: " + string.Join(", ", known) + ")");
            }
        }
    }

    private static ushort[] Ports(Config section, string path, string key, ushort[] fallback)
    {
        if (!section.HasPath(key))
        {
            return fallback;
        }

        var full = path + "." + key;
        IList<string> items;
        try
        {
            items = section.GetStringList(key);
        }
        catch (Exception e) when (e is ConfigurationException or InvalidCastException or FormatException)
        {
            throw new FabricConfigException(full, "expected a list of UDP ports, e.g. [4789, 8472]", e);
        }

        var ports = new ushort[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            if (!ushort.TryParse(items[i], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port == 0)
            {
                throw new FabricConfigException($"{full}[{i}]", $"expected a UDP port 1-65535, got \"{items[i]}\"");
            }

            ports[i] = port;
        }

        return ports;
    }

    private static ErspanTypes ErspanTypesValue(Config section, string path, ErspanTypes fallback)
    {
        const string key = "erspan-types";
        if (!section.HasPath(key))
        {
            return fallback;
        }

        var full = path + "." + key;
        IList<string> items;
        try
        {
            items = section.GetStringList(key);
        }
        catch (Exception e) when (e is ConfigurationException or InvalidCastException or FormatException)
        {
            throw new FabricConfigException(full, "expected a list of ERSPAN types, e.g. [1, 2, 3]", e);
        }

        var types = ErspanTypes.None;
        for (var i = 0; i < items.Count; i++)
        {
            types |= items[i].Trim().ToUpperInvariant() switch
            {
                "1" or "I" => ErspanTypes.TypeI,
                "2" or "II" => ErspanTypes.TypeII,
                "3" or "III" => ErspanTypes.TypeIII,
                _ => throw new FabricConfigException($"{full}[{i}]", $"expected 1, 2 or 3, got \"{items[i]}\""),
            };
        }

        return types;
    }

    private static int Int(Config section, string path, string key, int fallback, int min, int max)
    {
        if (!section.HasPath(key))
        {
            return fallback;
        }

        var text = section.GetString(key);
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new FabricConfigException(path + "." + key,
                string.Create(CultureInfo.InvariantCulture, $"expected an integer {min}-{max}, got \"{text}\""));
        }

        return value;
    }

    private static bool Bool(Config section, string path, string key, bool fallback)
    {
        if (!section.HasPath(key))
        {
            return fallback;
        }

        var text = section.GetString(key);
        return text switch
        {
            "true" or "on" or "yes" => true,
            "false" or "off" or "no" => false,
            _ => throw new FabricConfigException(path + "." + key, $"expected true or false, got \"{text}\""),
        };
    }

    private static T Choice<T>(Config section, string path, string key, T fallback, params (string Name, T Value)[] choices)
    {
        if (!section.HasPath(key))
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

        var names = string.Join(" or ", choices.Select(c => c.Name));
        throw new FabricConfigException(path + "." + key, $"expected {names}, got \"{text}\"");
    }

    private static MacAddress Mac(Config section, string path, string key, MacAddress fallback)
    {
        if (!section.HasPath(key))
        {
            return fallback;
        }

        var text = section.GetString(key);
        return MacAddress.TryParse(text, out var mac)
            ? mac
            : throw new FabricConfigException(path + "." + key, $"expected a MAC address like 02:00:00:00:00:01, got \"{text}\"");
    }

    private static TimeSpan Duration(Config section, string path, string key, TimeSpan fallback)
    {
        if (!section.HasPath(key))
        {
            return fallback;
        }

        try
        {
            var value = section.GetTimeSpan(key, null, false);
            return value;
        }
        catch (Exception e) when (e is ConfigurationException or FormatException or OverflowException or InvalidCastException)
        {
            throw new FabricConfigException(path + "." + key, $"expected a duration like 5s, got \"{section.GetString(key)}\"", e);
        }
    }
}
