using System.Net;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using Fabric.Actors.Capture;
using Fabric.Actors.Configuration;
using Fabric.Actors.DataPlane;
using Fabric.Actors.Decap;
using Fabric.Actors.Sinks;
using Fabric.Protocols.Decap;

namespace Fabric.Actors.Pipelines;

/// <summary>One pipeline of <c>fabric.pipelines</c>: source, capture thread, decap stage, sinks and queues.</summary>
public sealed record PipelineSettings
{
    public required string Name { get; init; }

    public required CaptureSettings Source { get; init; }

    public required DecapStageSettings Decap { get; init; }

    public required IReadOnlyList<SinkSettings> Sinks { get; init; }

    /// <summary>Start with the node (otherwise only from the console).</summary>
    public bool Autostart { get; init; } = true;

    /// <summary>Packets per batch.</summary>
    public int BatchPackets { get; init; } = 1024;

    /// <summary>Buffer bytes per batch.</summary>
    public int BatchBytes { get; init; } = 1 << 20;

    /// <summary>Batches in the pipeline's pool (its whole packet memory is batches x batch-bytes).</summary>
    public int Batches { get; init; } = 48;

    /// <summary>Batches that may wait in front of the decap stage of a live source (when it is full, capture waits
    /// and the packets stay in the kernel ring) and in front of a sink with <c>when-full = drop</c> (when it is
    /// full, that sink drops as <c>queue-full</c>). A file source's stages, and a sink with <c>when-full = wait</c>,
    /// get queues as deep as the pool (<see cref="Batches"/>) instead.</summary>
    public int QueueDepth { get; init; } = 16;
}

/// <summary>
/// Reads and validates <c>fabric.pipelines</c> (hocon/fabric.conf documents every key). Unknown keys and bad
/// values throw <see cref="FabricConfigException"/> with the full path, e.g.
/// <c>fabric.pipelines[0].sinks[1].rotate-size</c>.
/// </summary>
public static partial class PipelineSettingsReader
{
    public const string Path = "fabric.pipelines";

    private static readonly string[] PipelineKeys =
    [
        "name", "source", "capture-cpu", "decap-cpu", "decap", "filter", "dedup", "snap-length", "sinks", "autostart",
        "vni-counters", "allowed-vnis", "max-sources", "slice",
        "batch-packets", "batch-bytes", "batches", "queue-depth",
    ];

    /// <summary>The kernel ring of a live source unless <c>source.buffer-size</c> says otherwise: 16 MiB, not
    /// libpcap's 2 MiB, which a burst of 1,500-byte frames at line rate fills in a few milliseconds while the
    /// capture thread is descheduled. The ring is mapped into the node, so it is part of its RSS: 32 MiB put a
    /// node over 200 MB (docs/bench-dataplane.md).</summary>
    public const int DefaultKernelBufferBytes = 16 << 20;

    private static readonly string[] SourceKeys = ["interface", "file", "speed", "snaplen", "buffer-size", "promiscuous", "filter"];
    private static readonly string[] DedupKeys = ["window", "entries"];
    private static readonly string[] TapKeys = ["type", "when-full", "cpu", "device", "mtu", "persistent", "mark-source", "vlan-base", "vlans"];
    private static readonly string[] SliceKeys = ["after", "keep"];

    private static readonly string[] PcapKeys = ["type", "when-full", "cpu", "directory", "rotate-size", "rotate-interval", "keep-size", "keep-age", "precision", "write-buffer", "flush-interval", "format", "timestamps"];
    private static readonly string[] ForwardKeys = ["type", "when-full", "cpu", "encapsulation", "destination", "vni", "session-id", "mtu", "oversize"];

    /// <summary>Every pipeline of <paramref name="config"/>; an empty list when there are none.</summary>
    public static IReadOnlyList<PipelineSettings> Read(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!config.HasPath(Path))
        {
            return [];
        }

        var value = config.GetValue(Path);
        IList<HoconValue> rawItems;
        try
        {
            rawItems = value is null || value.IsEmpty || value.IsString() || value.IsObject() ? throw new FormatException() : value.GetArray();
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or ConfigurationException or InvalidCastException)
        {
            throw new FabricConfigException(Path, "expected a list of pipelines [ { name = ..., source { ... }, sinks = [ ... ] } ]", e);
        }

        if (rawItems.Count == 0)
        {
            return [];
        }

        var fabric = ConfigReader.At(config, "fabric");
        var pipelines = fabric.GetObjectList("pipelines");
        var names = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<PipelineSettings>(pipelines.Count);
        for (int i = 0; i < pipelines.Count; i++)
        {
            var pipeline = ReadPipeline(config, pipelines[i], rawItems[i]);
            if (!names.Add(pipeline.Name))
            {
                throw pipelines[i].Problem("name", $"duplicate pipeline name \"{pipeline.Name}\"");
            }

            result.Add(pipeline);
        }

        var interfaces = result.Where(p => p.Source.Interface is not null).GroupBy(p => p.Source.Interface).FirstOrDefault(g => g.Count() > 1);
        if (interfaces is not null)
        {
            int index = result.FindLastIndex(p => p.Source.Interface == interfaces.Key);
            throw new FabricConfigException($"{Path}[{index}].source.interface", $"interface {interfaces.Key} is already captured by another pipeline (one capture per interface)");
        }

        return result;
    }

    private static PipelineSettings ReadPipeline(Config config, ConfigReader p, HoconValue raw)
    {
        p.RejectUnknownKeys(PipelineKeys);
        string name = p.GetString("name", allowEmpty: false);
        if (!NamePattern().IsMatch(name))
        {
            throw p.Problem("name", $"expected lower-case letters, digits and '-' (at most 40), got \"{name}\"");
        }

        var source = ReadSource(p.GetObject("source"), p);
        if (p.Has("capture-cpu"))
        {
            source = source with { Cpu = Cpu(p, "capture-cpu") };
        }

        int? decapCpu = p.Has("decap-cpu") ? Cpu(p, "decap-cpu") : null;
        var options = ReadDecap(config, p, raw);
        string? filter = p.GetOptionalString("filter");
        if (filter is not null && BpfFilter.Check(filter) is string problem)
        {
            throw p.Problem("filter", $"BPF does not compile: {problem}");
        }

        TimeSpan? window = null;
        int entries = 65536;
        if (p.Has("dedup"))
        {
            var dedup = p.GetObject("dedup");
            dedup.RejectUnknownKeys(DedupKeys);
            window = dedup.Has("window") ? dedup.GetDuration("window", TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(10)) : TimeSpan.FromSeconds(2);
            entries = dedup.Has("entries") ? dedup.GetInt("entries", 64, 1 << 24) : entries;
        }

        int snapLength = p.Has("snap-length") ? p.GetInt("snap-length", 0, 262144) : 0;
        Fabric.Protocols.Decap.SliceAfter? sliceAfter = null;
        int sliceKeep = 64;
        if (p.Has("slice"))
        {
            var slice = p.GetObject("slice");
            slice.RejectUnknownKeys(SliceKeys);
            string after = slice.GetString("after", allowEmpty: false);
            sliceAfter = after switch
            {
                "l2-header" => Fabric.Protocols.Decap.SliceAfter.L2Header,
                "l3-header" => Fabric.Protocols.Decap.SliceAfter.L3Header,
                "l4-header" => Fabric.Protocols.Decap.SliceAfter.L4Header,
                _ => throw slice.Problem("after", $"expected l2-header, l3-header or l4-header, got \"{after}\""),
            };
            sliceKeep = slice.Has("keep") ? slice.GetInt("keep", 0, 65535) : 64;
        }

        int vniCounters = p.Has("vni-counters") ? p.GetInt("vni-counters", 0, VniCounters.MaxTracked) : 64;
        var allowedVnis = new List<int>();
        if (p.Has("allowed-vnis"))
        {
            var texts = p.GetStringList("allowed-vnis");
            for (int v = 0; v < texts.Count; v++)
            {
                if (!int.TryParse(texts[v], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var vni) || vni > 16_777_215)
                {
                    throw new FabricConfigException($"{p.PathOf("allowed-vnis")}[{v}]", $"expected a VNI 0-16777215, got \"{texts[v]}\"");
                }

                allowedVnis.Add(vni);
            }

            if (allowedVnis.Count > VniCounters.MaxTracked)
            {
                throw p.Problem("allowed-vnis", $"at most {VniCounters.MaxTracked} VNIs");
            }
        }

        var sinks = p.GetObjectList("sinks");
        if (sinks.Count == 0)
        {
            throw p.Problem("sinks", "a pipeline needs at least one sink");
        }

        var sinkSettings = new List<SinkSettings>(sinks.Count);
        for (int s = 0; s < sinks.Count; s++)
        {
            var sink = ReadSink(sinks[s], s, name);
            sinkSettings.Add(sink with
            {
                WhenFull = ReadWhenFull(sinks[s], sinks.Count),
                Cpu = sinks[s].Has("cpu") ? Cpu(sinks[s], "cpu") : null,
            });
        }

        var taps = sinkSettings.OfType<TapSinkSettings>().GroupBy(t => t.Device).FirstOrDefault(g => g.Count() > 1);
        if (taps is not null)
        {
            throw p.Problem("sinks", $"TAP device {taps.Key} is used by two sinks");
        }

        var settings = new PipelineSettings
        {
            Name = name,
            Source = source,
            Decap = new DecapStageSettings
            {
                Options = options,
                Filter = filter,
                DedupWindow = window,
                DedupEntries = entries,
                SnapLength = snapLength,
                Cpu = decapCpu,
                VniCounters = vniCounters,
                AllowedVnis = allowedVnis,
                SliceAfter = sliceAfter,
                SliceKeep = sliceKeep,
                MaxSources = p.Has("max-sources") ? p.GetInt("max-sources", 0, Fabric.Protocols.Decap.SourceTable.Limit) : 256,
            },
            Sinks = sinkSettings,
            Autostart = !p.Has("autostart") || p.GetBool("autostart"),
            BatchPackets = p.Has("batch-packets") ? p.GetInt("batch-packets", 1, 65536) : 1024,
            BatchBytes = p.Has("batch-bytes") ? (int)p.GetByteSize("batch-bytes", 65536, 1L << 30) : 1 << 20,
            Batches = p.Has("batches") ? p.GetInt("batches", 2, 4096) : 48,
            QueueDepth = p.Has("queue-depth") ? p.GetInt("queue-depth", 1, 4096) : 16,
        };
        if (settings.BatchBytes < settings.Source.Snaplen)
        {
            throw p.Problem("batch-bytes", $"must hold at least one packet of snaplen {settings.Source.Snaplen} bytes");
        }

        return settings;
    }

    private static CaptureSettings ReadSource(ConfigReader source, ConfigReader pipeline)
    {
        if (!pipeline.Has("source"))
        {
            throw pipeline.Problem("source", "missing: source { interface = ens4 } or source { file = \"x.pcap\" }");
        }

        source.RejectUnknownKeys(SourceKeys);
        string? name = source.GetOptionalString("interface");
        string? file = source.GetOptionalString("file");
        if ((name is null) == (file is null))
        {
            throw source.Problem(name is null ? "interface" : "file", "give exactly one of interface or file");
        }

        if (name is not null && (name.Length is 0 or > 15 || name.Contains('/', StringComparison.Ordinal) || name.Any(char.IsWhiteSpace)))
        {
            throw source.Problem("interface", $"not an interface name: \"{name}\"");
        }

        if (file is not null && !File.Exists(file))
        {
            throw source.Problem("file", $"no such file: {file}");
        }

        if (name is not null && source.Has("speed"))
        {
            throw source.Problem("speed", "only for a file source");
        }

        string? outerFilter = source.GetOptionalString("filter");
        if (outerFilter is not null && BpfFilter.Check(outerFilter) is string problem)
        {
            throw source.Problem("filter", $"BPF does not compile: {problem}");
        }

        return new CaptureSettings
        {
            Interface = name,
            File = file,
            Speed = source.Has("speed") ? source.GetEnum<FileSpeed>("speed") : FileSpeed.Topspeed,
            Snaplen = source.Has("snaplen") ? source.GetInt("snaplen", 64, 262144) : 65535,
            KernelBufferBytes = source.Has("buffer-size") ? (int)source.GetByteSize("buffer-size", 65536, int.MaxValue) : DefaultKernelBufferBytes,
            Promiscuous = !source.Has("promiscuous") || source.GetBool("promiscuous"),
            Filter = outerFilter,
        };
    }

    private static int Cpu(ConfigReader p, string key)
    {
        int cpu = p.GetInt(key, 0, 1023);
        if (!CpuAffinity.Exists(cpu))
        {
            string online = string.Join(",", CpuAffinity.Online());
            throw p.Problem(key, $"CPU {cpu} does not exist on this machine (online: {online})");
        }

        return cpu;
    }

    private static DecapOptions ReadDecap(Config config, ConfigReader p, HoconValue raw)
    {
        var own = raw.GetObject().Items.TryGetValue("decap", out var decap) ? decap : null;
        if (own is null)
        {
            return DecapSettings.FromConfig(config);
        }

        if (!own.IsObject())
        {
            throw p.Problem("decap", "expected an object { ... } of fabric.decap overrides");
        }

        var rootValue = new HoconValue();
        var rootObject = new HoconObject();
        rootValue.NewValue(rootObject);
        var fabricValue = new HoconValue();
        var fabricObject = new HoconObject();
        fabricValue.NewValue(fabricObject);
        rootObject.Items["fabric"] = fabricValue;
        fabricObject.Items["decap"] = own;
        var merged = new Config(new HoconRoot(rootValue)).WithFallback(config);
        try
        {
            return DecapSettings.FromConfig(merged);
        }
        catch (FabricConfigException e) when (e.Path.StartsWith(DecapSettings.DefaultPath, StringComparison.Ordinal))
        {
            throw new FabricConfigException(p.PathOf("decap") + e.Path[DecapSettings.DefaultPath.Length..], e.Problem, e);
        }
    }

    private static SinkSettings ReadSink(ConfigReader sink, int index, string pipeline)
    {
        string type = sink.GetString("type", allowEmpty: false);
        switch (type)
        {
            case "tap":
            {
                sink.RejectUnknownKeys(TapKeys);
                string device = sink.GetString("device", allowEmpty: false);
                if (device.Length > 15 || device.Contains('/', StringComparison.Ordinal) || device.Any(char.IsWhiteSpace))
                {
                    throw sink.Problem("device", $"not a device name (at most 15 characters): \"{device}\"");
                }

                string mark = sink.Has("mark-source") ? sink.GetString("mark-source") : "none";
                if (mark is not ("none" or "vlan"))
                {
                    throw sink.Problem("mark-source", $"expected none or vlan, got \"{mark}\"");
                }

                var vlans = new Dictionary<string, int>(StringComparer.Ordinal);
                if (sink.Has("vlans"))
                {
                    foreach (var entry in sink.GetObjectList("vlans"))
                    {
                        entry.RejectUnknownKeys("source", "vlan");
                        vlans[entry.GetString("source", allowEmpty: false)] = entry.GetInt("vlan", 1, 4094);
                    }
                }

                return new TapSinkSettings
                {
                    Stage = $"tap-{device}",
                    Device = device,
                    MarkSource = mark == "vlan",
                    VlanBase = sink.Has("vlan-base") ? sink.GetInt("vlan-base", 1, 4094) : 1000,
                    Vlans = vlans,
                    Mtu = sink.Has("mtu") ? sink.GetInt("mtu", 68, 65535) : 9000,
                    Persistent = !sink.Has("persistent") || sink.GetBool("persistent"),
                };
            }

            case "pcap":
            {
                sink.RejectUnknownKeys(PcapKeys);
                string directory = sink.GetString("directory", allowEmpty: false);
                if (!System.IO.Path.IsPathFullyQualified(directory))
                {
                    throw sink.Problem("directory", $"expected an absolute path, got \"{directory}\"");
                }

                string precision = sink.Has("precision") ? sink.GetString("precision") : "us";
                if (precision is not ("us" or "ns"))
                {
                    throw sink.Problem("precision", $"expected us or ns, got \"{precision}\"");
                }

                string format = sink.Has("format") ? sink.GetString("format") : "pcap";
                if (format is not ("pcap" or "pcapng"))
                {
                    throw sink.Problem("format", $"expected pcap or pcapng, got \"{format}\"");
                }

                string timestamps = sink.Has("timestamps") ? sink.GetString("timestamps") : "capture";
                if (timestamps is not ("capture" or "switch"))
                {
                    throw sink.Problem("timestamps", $"expected capture or switch, got \"{timestamps}\"");
                }

                if (timestamps == "switch" && format != "pcapng")
                {
                    throw sink.Problem("timestamps", "switch needs format = pcapng");
                }

                return new PcapSinkSettings
                {
                    Stage = $"pcap-{index}",
                    Format = format == "pcapng" ? PcapFormat.PcapNg : PcapFormat.Pcap,
                    SwitchTimestamps = timestamps == "switch",
                    Directory = directory,
                    Prefix = pipeline,
                    RotateSize = sink.Has("rotate-size") ? sink.GetByteSize("rotate-size", 0, long.MaxValue) : 1L << 30,
                    RotateInterval = OptionalDuration(sink, "rotate-interval", TimeSpan.FromHours(1)),
                    KeepSize = sink.Has("keep-size") ? sink.GetByteSize("keep-size", 0, long.MaxValue) : 0,
                    KeepAge = OptionalDuration(sink, "keep-age", null),
                    Nanoseconds = precision == "ns",
                    WriteBufferBytes = sink.Has("write-buffer") ? (int)sink.GetByteSize("write-buffer", 4096, 256L << 20) : 1 << 20,
                    FlushInterval = sink.Has("flush-interval") ? sink.GetDuration("flush-interval", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10)) : TimeSpan.FromSeconds(1),
                };
            }

            case "forward":
            {
                sink.RejectUnknownKeys(ForwardKeys);
                var encapsulation = sink.Has("encapsulation") ? sink.GetEnum<ForwardEncapsulation>("encapsulation") : ForwardEncapsulation.Vxlan;
                string destinationText = sink.GetString("destination", allowEmpty: false);
                int defaultPort = encapsulation == ForwardEncapsulation.Vxlan ? 4789 : 0;
                if (!TryParseDestination(destinationText, defaultPort, out var destination))
                {
                    throw sink.Problem("destination", $"expected an IP address with an optional port, e.g. \"192.0.2.9:4789\", got \"{destinationText}\"");
                }

                if (encapsulation == ForwardEncapsulation.Vxlan && destination.Port == 0)
                {
                    throw sink.Problem("destination", "VXLAN needs a UDP port");
                }

                return new ForwardSinkSettings
                {
                    Stage = $"forward-{index}",
                    Encapsulation = encapsulation,
                    Destination = destination,
                    Vni = sink.Has("vni") ? sink.GetInt("vni", 0, 0xFFFFFF) : 0,
                    SessionId = sink.Has("session-id") ? sink.GetInt("session-id", 0, 1023) : 0,
                    Mtu = sink.Has("mtu") ? sink.GetInt("mtu", 576, 65535) : 1500,
                    Oversize = sink.Has("oversize") ? sink.GetEnum<OversizePolicy>("oversize") : OversizePolicy.Truncate,
                };
            }

            default:
                throw sink.Problem("type", $"expected tap, pcap or forward, got \"{type}\"");
        }
    }

    /// <summary><c>when-full = wait | drop</c>; default wait for a pipeline's only sink, drop when it has several.</summary>
    private static SinkWhenFull ReadWhenFull(ConfigReader sink, int sinkCount) =>
        sink.Has("when-full") ? sink.GetEnum<SinkWhenFull>("when-full")
        : sinkCount == 1 ? SinkWhenFull.Wait : SinkWhenFull.Drop;

    private static TimeSpan? OptionalDuration(ConfigReader reader, string key, TimeSpan? fallback)
    {
        if (!reader.Has(key))
        {
            return fallback;
        }

        string text = reader.GetString(key);
        if (text is "off" or "none" or "0")
        {
            return null;
        }

        return reader.GetDuration(key, TimeSpan.FromSeconds(1));
    }

    private static bool TryParseDestination(string text, int defaultPort, out IPEndPoint endpoint)
    {
        if (IPEndPoint.TryParse(text, out var parsed) && parsed is not null)
        {
            endpoint = parsed.Port == 0 && defaultPort != 0 ? new IPEndPoint(parsed.Address, defaultPort) : parsed;
            return true;
        }

        endpoint = new IPEndPoint(IPAddress.None, 0);
        return false;
    }

    /// <summary>True when <paramref name="name"/> is a valid pipeline name (the rule other settings that
    /// name a pipeline check against too).</summary>
    public static bool IsValidName(string name) => NamePattern().IsMatch(name);

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,39}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}
