using System.Net;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;
using Fabric.Actors.Capture;
using Fabric.Configuration;
using Fabric.Actors.DataPlane;
using Fabric.Actors.Decap;
using Fabric.Actors.Sinks;
using Fabric.Protocols.Decap;
using Fabric.Protocols.NodeStream;

namespace Fabric.Actors.Pipelines;

/// <summary>One pipeline of <c>fabric.pipelines</c>: source, capture thread, decap stage, sinks and queues.</summary>
public sealed record PipelineSettings
{
    public required string Name { get; init; }

    public required CaptureSettings Source { get; init; }

    public required DecapStageSettings Decap { get; init; }

    public required IReadOnlyList<SinkSettings> Sinks { get; init; }

    /// <summary>Start with the node (otherwise only from the console).</summary>
    public required bool Autostart { get; init; }

    /// <summary>Packets per batch.</summary>
    public required int BatchPackets { get; init; }

    /// <summary>Buffer bytes per batch.</summary>
    public required int BatchBytes { get; init; }

    /// <summary>Batches in the pipeline's pool (its whole packet memory is batches x batch-bytes).</summary>
    public required int Batches { get; init; }

    /// <summary>Batches that may wait in front of the decap stage of a live source (when it is full, capture waits
    /// and the packets stay in the kernel ring) and in front of a sink with <c>when-full = drop</c> (when it is
    /// full, that sink drops as <c>queue-full</c>). A file source's stages, and a sink with <c>when-full = wait</c>,
    /// get queues as deep as the pool (<see cref="Batches"/>) instead.</summary>
    public required int QueueDepth { get; init; }
}

/// <summary>
/// Reads and validates <c>fabric.pipelines</c> (hocon/fabric.conf documents every key). Each pipeline is read
/// over <c>fabric.defaults.pipeline</c>, each sink over <c>fabric.defaults.sink.&lt;type&gt;</c> and a
/// pipeline's own <c>decap { }</c> over <c>fabric.decap</c> (<see cref="ConfigReader.WithDefaults"/>): the
/// defaults are those blocks, none is written here. Unknown keys and bad values throw
/// <see cref="FabricConfigException"/> with the full path, e.g. <c>fabric.pipelines[0].sinks[1].rotate-size</c>.
/// </summary>
public static partial class PipelineSettingsReader
{
    public const string Path = "fabric.pipelines";

    private static readonly string[] PipelineKeys =
    [
        "name", "source", "capture-cpu", "decap-cpu", "decap", "filter", "dedup", "snap-length", "sinks", "autostart",
        "vni-counters", "allowed-vnis", "max-sources", "session-names", "slice",
        "batch-packets", "batch-bytes", "batches", "queue-depth", "nice",
    ];

    /// <summary>The block every pipeline is read over.</summary>
    public const string PipelineDefaultsPath = "fabric.defaults.pipeline";

    /// <summary>The blocks sinks are read over: <c>fabric.defaults.sink.tap</c>, <c>.pcap</c>, <c>.forward</c>, <c>.stream</c>.</summary>
    public const string SinkDefaultsPath = "fabric.defaults.sink";

    private static readonly string[] SourceKeys = ["interface", "file", "stream", "speed", "snaplen", "buffer-size", "promiscuous", "filter"];
    private static readonly string[] StreamSourceKeys = ["listen", "max-connections", "max-record-bytes", "handshake-timeout"];
    private static readonly string[] StreamKeys = ["type", "when-full", "cpu", "destination", "compression", "level", "send-buffer", "connect-timeout", "write-timeout", "max-backoff", "wait-timeout"];
    private static readonly string[] DedupKeys = ["window", "entries"];
    private static readonly string[] TapKeys = ["type", "when-full", "cpu", "device", "mtu", "persistent", "mark-source", "vlan-base", "vlans", "io-uring"];
    private static readonly string[] SliceKeys = ["after", "keep"];

    private static readonly string[] PcapKeys = ["type", "when-full", "cpu", "directory", "rotate-size", "rotate-interval", "keep-size", "keep-age", "precision", "write-buffer", "flush-interval", "format", "timestamps"];
    private static readonly string[] ForwardKeys = ["type", "when-full", "cpu", "encapsulation", "destination", "vni", "session-id", "mtu", "oversize"];
    private static readonly string[] BalanceKeys = ["type", "when-full", "cpu", "hash", "members"];
    private static readonly string[] PcapOverIpKeys = ["type", "when-full", "cpu", "listen", "max-clients", "client-buffer"];

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

        config = FabricConfig.WithReference(config);
        var fabric = ConfigReader.At(config, "fabric");
        var pipelines = fabric.GetObjectList("pipelines");
        var defaults = ConfigReader.At(config, PipelineDefaultsPath);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<PipelineSettings>(pipelines.Count);
        for (int i = 0; i < pipelines.Count; i++)
        {
            var pipeline = ReadPipeline(config, pipelines[i].WithDefaults(defaults));
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

    private static PipelineSettings ReadPipeline(Config config, ConfigReader p)
    {
        p.RejectUnknownKeys(PipelineKeys);
        string name = p.GetString("name", allowEmpty: false);
        if (!NamePattern().IsMatch(name))
        {
            throw p.Problem("name", $"expected lower-case letters, digits and '-' (at most 40), got \"{name}\"");
        }

        var source = ReadSource(config, p.GetObject("source"), p);
        if (p.Has("capture-cpu"))
        {
            source = source with { Cpu = Cpu(p, "capture-cpu") };
        }

        int? decapCpu = p.Has("decap-cpu") ? Cpu(p, "decap-cpu") : null;
        var nice = ReadNice(p, name);
        source = source with { Nice = nice };
        var options = ReadDecap(config, p);
        string? filter = p.GetOptionalString("filter");
        if (filter is not null && BpfFilter.Check(filter) is string problem)
        {
            throw p.Problem("filter", $"BPF does not compile: {problem}");
        }

        // dedup { } present turns dedup on; its keys come from fabric.defaults.pipeline.dedup.
        var dedup = p.GetObject("dedup");
        dedup.RejectUnknownKeys(DedupKeys);
        TimeSpan? window = p.HasOwn("dedup") ? dedup.GetDuration("window", TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(10)) : null;
        int entries = dedup.GetInt("entries", 64, 1 << 24);

        int snapLength = p.GetInt("snap-length", 0, 262144);
        // slice { } present turns header-relative slicing on; keep comes from fabric.defaults.pipeline.slice.
        var slice = p.GetObject("slice");
        slice.RejectUnknownKeys(SliceKeys);
        Fabric.Protocols.Decap.SliceAfter? sliceAfter = null;
        if (p.HasOwn("slice"))
        {
            string after = slice.GetString("after", allowEmpty: false);
            sliceAfter = after switch
            {
                "l2-header" => Fabric.Protocols.Decap.SliceAfter.L2Header,
                "l3-header" => Fabric.Protocols.Decap.SliceAfter.L3Header,
                "l4-header" => Fabric.Protocols.Decap.SliceAfter.L4Header,
                _ => throw slice.Problem("after", $"expected l2-header, l3-header or l4-header, got \"{after}\""),
            };
        }

        int sliceKeep = slice.GetInt("keep", 0, 65535);
        int vniCounters = p.GetInt("vni-counters", 0, VniCounters.MaxTracked);
        var allowedVnis = new List<int>();
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
            var sink = WithSinkDefaults(config, sinks[s]);
            var read = ReadSink(config, sink, s.ToString(System.Globalization.CultureInfo.InvariantCulture), name) with
            {
                WhenFull = ReadWhenFull(sink, sinks.Count),
                Cpu = sink.Has("cpu") ? Cpu(sink, "cpu") : null,
                Nice = nice,
            };
            if (read is BalanceSinkSettings balance)
            {
                read = balance with { Members = [.. balance.Members.Select(m => m with { Nice = nice })] };
            }

            sinkSettings.Add(read);
        }

        var taps = sinkSettings.SelectMany(s => s is BalanceSinkSettings b ? b.Members : [s]).OfType<TapSinkSettings>()
            .GroupBy(t => t.Device).FirstOrDefault(g => g.Count() > 1);
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
                Nice = nice,
                VniCounters = vniCounters,
                AllowedVnis = allowedVnis,
                SliceAfter = sliceAfter,
                SliceKeep = sliceKeep,
                MaxSources = p.GetInt("max-sources", 0, Fabric.Protocols.Decap.SourceTable.Limit),
                SessionNames = ReadSessionNames(p),
            },
            Sinks = sinkSettings,
            Autostart = p.GetBool("autostart"),
            BatchPackets = p.GetInt("batch-packets", 1, 65536),
            BatchBytes = (int)p.GetByteSize("batch-bytes", 65536, 1L << 30),
            Batches = p.GetInt("batches", 2, 4096),
            QueueDepth = p.GetInt("queue-depth", 1, 4096),
        };
        if (sinkSettings.Any(sink => sink is StreamSinkSettings)
            && (long)settings.BatchBytes + ((long)settings.BatchPackets * StreamRecordHeader.FrameHeaderLength) > StreamRecordHeader.MaxRawLength)
        {
            throw p.Problem("batch-bytes", $"a stream sink sends one record per batch: batch-bytes + 16 x batch-packets must be at most {StreamRecordHeader.MaxRawLength >> 20} MiB");
        }

        if (settings.BatchBytes < settings.Source.Snaplen)
        {
            throw p.Problem("batch-bytes", $"must hold at least one packet of snaplen {settings.Source.Snaplen} bytes");
        }

        return settings;
    }

    /// <summary><c>session-names = [ { source = "erspan 198.18.1.10 session 7", name = "branch-12" } ]</c>.</summary>
    private static Dictionary<string, string> ReadSessionNames(ConfigReader p)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = p.GetObjectList("session-names");
        for (int i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            entry.RejectUnknownKeys("source", "name");
            string source = entry.GetString("source", allowEmpty: false);
            if (Fabric.Protocols.Decap.SourceNames.Check(source) is string problem)
            {
                throw entry.Problem("source", problem);
            }

            if (!names.TryAdd(source, entry.GetString("name", allowEmpty: false)))
            {
                throw entry.Problem("source", $"\"{source}\" is named twice");
            }
        }

        return names;
    }

    private static CaptureSettings ReadSource(Config config, ConfigReader source, ConfigReader pipeline)
    {
        if (!pipeline.HasOwn("source"))
        {
            throw pipeline.Problem("source", "missing: source { interface = ens4 } or source { file = \"x.pcap\" }");
        }

        source.RejectUnknownKeys(SourceKeys);
        if (source.HasOwn("stream"))
        {
            return ReadStreamSource(config, source);
        }

        string? name = source.GetOptionalString("interface");
        string? file = source.GetOptionalString("file");
        if ((name is null) == (file is null))
        {
            throw source.Problem(name is null ? "interface" : "file", "give exactly one of interface, file or stream { listen = ... }");
        }

        if (name is not null && (name.Length is 0 or > 15 || name.Contains('/', StringComparison.Ordinal) || name.Any(char.IsWhiteSpace)))
        {
            throw source.Problem("interface", $"not an interface name: \"{name}\"");
        }

        if (file is not null && !File.Exists(file))
        {
            throw source.Problem("file", $"no such file: {file}");
        }

        if (name is not null && source.HasOwn("speed"))
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
            Speed = source.GetEnum<FileSpeed>("speed"),
            Snaplen = source.GetInt("snaplen", 64, 262144),
            KernelBufferBytes = (int)source.GetByteSize("buffer-size", 65536, int.MaxValue),
            Promiscuous = source.GetBool("promiscuous"),
            Filter = outerFilter,
        };
    }

    /// <summary><c>nice</c>: an integer -20..19 for the pipeline's data-plane threads, or null (leave them alone).</summary>
    private static DataPlane.ThreadNice? ReadNice(ConfigReader p, string pipeline)
    {
        if (!p.Has("nice"))
        {
            return null;
        }

        string text = p.GetString("nice");
        if (!int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out int value)
            || value is < DataPlane.ThreadNice.Min or > DataPlane.ThreadNice.Max)
        {
            throw p.Problem("nice", $"expected an integer -20..19 or null, got \"{text}\"");
        }

        return new DataPlane.ThreadNice(pipeline, value);
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

    // A pipeline's own decap { } is read over fabric.decap; errors name fabric.pipelines[i].decap.<key>.
    private static DecapOptions ReadDecap(Config config, ConfigReader p)
    {
        if (!p.HasOwn("decap"))
        {
            return DecapSettings.FromConfig(config);
        }

        var own = p.GetObject("decap");
        return DecapSettings.FromReader(own.WithDefaults(ConfigReader.At(config, DecapSettings.DefaultPath)));
    }

    // A sink is read over fabric.defaults.sink.<type> (an unknown type is refused by ReadSink).
    private static ConfigReader WithSinkDefaults(Config config, ConfigReader sink)
    {
        string type = sink.GetString("type", allowEmpty: false);
        return type is "tap" or "pcap" or "forward" or "stream" or "balance" or "pcap-over-ip"
            ? sink.WithDefaults(ConfigReader.At(config, $"{SinkDefaultsPath}.{type}"))
            : sink;
    }

    private static SinkSettings ReadSink(Config config, ConfigReader sink, string index, string pipeline)
    {
        string type = sink.GetString("type", allowEmpty: false);
        switch (type)
        {
            case "balance":
                return ReadBalance(config, sink, index, pipeline);

            case "pcap-over-ip":
                return ReadPcapOverIp(config, sink, index);

            case "tap":
            {
                sink.RejectUnknownKeys(TapKeys);
                string device = sink.GetString("device", allowEmpty: false);
                if (device.Length > 15 || device.Contains('/', StringComparison.Ordinal) || device.Any(char.IsWhiteSpace))
                {
                    throw sink.Problem("device", $"not a device name (at most 15 characters): \"{device}\"");
                }

                string mark = sink.GetString("mark-source");
                if (mark is not ("none" or "vlan"))
                {
                    throw sink.Problem("mark-source", $"expected none or vlan, got \"{mark}\"");
                }

                var vlans = new Dictionary<string, int>(StringComparer.Ordinal);
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
                    VlanBase = sink.GetInt("vlan-base", 1, 4094),
                    Vlans = vlans,
                    Mtu = sink.GetInt("mtu", 68, 65535),
                    Persistent = sink.GetBool("persistent"),
                    IoUring = sink.GetBool("io-uring"),
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

                string precision = sink.GetString("precision");
                if (precision is not ("us" or "ns"))
                {
                    throw sink.Problem("precision", $"expected us or ns, got \"{precision}\"");
                }

                string format = sink.GetString("format");
                if (format is not ("pcap" or "pcapng"))
                {
                    throw sink.Problem("format", $"expected pcap or pcapng, got \"{format}\"");
                }

                string timestamps = sink.GetString("timestamps");
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
                    RotateSize = sink.GetByteSize("rotate-size", 0, long.MaxValue),
                    RotateInterval = OptionalDuration(sink, "rotate-interval"),
                    KeepSize = sink.GetByteSize("keep-size", 0, long.MaxValue),
                    KeepAge = OptionalDuration(sink, "keep-age"),
                    Nanoseconds = precision == "ns",
                    WriteBufferBytes = (int)sink.GetByteSize("write-buffer", 4096, 256L << 20),
                    FlushInterval = sink.GetDuration("flush-interval", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10)),
                };
            }

            case "forward":
            {
                sink.RejectUnknownKeys(ForwardKeys);
                var encapsulation = sink.GetEnum<ForwardEncapsulation>("encapsulation");
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
                    Vni = sink.GetInt("vni", 0, 0xFFFFFF),
                    SessionId = sink.GetInt("session-id", 0, 1023),
                    Mtu = sink.GetInt("mtu", 576, 65535),
                    Oversize = sink.GetEnum<OversizePolicy>("oversize"),
                };
            }

            case "stream":
                return ReadStreamSink(config, sink, index);

            default:
                throw sink.Problem("type", $"expected tap, pcap, forward, stream, balance or pcap-over-ip, got \"{type}\"");
        }
    }

    // source { stream { listen = ... } }, read over fabric.defaults.pipeline.source.stream.
    private static CaptureSettings ReadStreamSource(Config config, ConfigReader source)
    {
        foreach (var other in new[] { "interface", "file", "speed", "buffer-size", "promiscuous", "filter" })
        {
            if (source.HasOwn(other))
            {
                throw source.Problem(other, "not with a stream source");
            }
        }

        var stream = source.GetObject("stream");
        stream.RejectUnknownKeys(StreamSourceKeys);
        string listenText = stream.GetString("listen", allowEmpty: false);
        if (!IPEndPoint.TryParse(listenText, out var listen) || listen.Port == 0)
        {
            throw stream.Problem("listen", $"expected an IP address and port, e.g. \"0.0.0.0:7400\", got \"{listenText}\"");
        }

        return new CaptureSettings
        {
            Stream = new StreamSourceSettings
            {
                Listen = listen,
                MaxConnections = stream.GetInt("max-connections", 1, 1024),
                MaxRecordBytes = (int)stream.GetByteSize("max-record-bytes", 65536, StreamRecordHeader.MaxRawLength),
                HandshakeTimeout = stream.GetDuration("handshake-timeout", TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5)),
                Tls = StreamTlsReader.Read(config, stream, "listen"),
            },
            Snaplen = source.GetInt("snaplen", 64, 262144),
        };
    }

    // { type = stream, destination = "HOST:PORT", ... }, read over fabric.defaults.sink.stream.
    private static StreamSinkSettings ReadStreamSink(Config config, ConfigReader sink, string index)
    {
        sink.RejectUnknownKeys(StreamKeys);
        string destination = sink.GetString("destination", allowEmpty: false);
        int colon = destination.LastIndexOf(':');
        string host = colon > 0 ? destination[..colon].Trim('[', ']') : "";
        if (colon <= 0 || host.Length == 0 || !int.TryParse(destination[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            throw sink.Problem("destination", $"expected HOST:PORT, e.g. \"central.example:7400\", got \"{destination}\"");
        }

        var compression = sink.GetEnum<StreamCompression>("compression");
        // level = null in the defaults block: the compression's own default (lz4 0, zstd 1).
        int level = compression switch
        {
            StreamCompression.Zstd => sink.Has("level") ? sink.GetInt("level", 1, 19) : 1,
            StreamCompression.Lz4 => sink.Has("level") ? sink.GetInt("level", 0, 12) : 0,
            _ => sink.Has("level") ? throw sink.Problem("level", "only with compression = lz4 or zstd") : 0,
        };
        return new StreamSinkSettings
        {
            Stage = $"stream-{index}",
            Host = host,
            Port = port,
            Compression = compression,
            Level = level,
            SendBuffer = sink.GetInt("send-buffer", 1, 1024),
            ConnectTimeout = sink.GetDuration("connect-timeout", TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5)),
            WriteTimeout = sink.GetDuration("write-timeout", TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5)),
            MaxBackoff = sink.GetDuration("max-backoff", TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)),
            WaitTimeout = sink.GetDuration("wait-timeout", TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1)),
            Tls = StreamTlsReader.Read(config, sink, "type"),
        };
    }


    /// <summary><c>{ type = balance, hash = symmetric-5tuple, members = [ {sink}, {sink} ] }</c>; a member is any
    /// other kind of sink, without <c>when-full</c> or <c>cpu</c> of its own (the balance sink's apply).</summary>
    private static BalanceSinkSettings ReadBalance(Config config, ConfigReader sink, string index, string pipeline)
    {
        sink.RejectUnknownKeys(BalanceKeys);
        string hash = sink.GetString("hash");
        if (hash != "symmetric-5tuple")
        {
            throw sink.Problem("hash", $"expected symmetric-5tuple, got \"{hash}\"");
        }

        var members = sink.GetObjectList("members");
        if (members.Count is < 2 or > BalanceSinkSettings.MaxMembers)
        {
            throw sink.Problem("members", $"a balance sink needs 2 to {BalanceSinkSettings.MaxMembers} member sinks, got {members.Count}");
        }

        var settings = new List<SinkSettings>(members.Count);
        for (int m = 0; m < members.Count; m++)
        {
            var member = WithSinkDefaults(config, members[m]);
            string memberType = member.GetString("type", allowEmpty: false);
            if (memberType == "balance")
            {
                throw member.Problem("type", "a balance sink's member cannot be a balance sink");
            }

            foreach (var key in new[] { "when-full", "cpu" })
            {
                if (member.HasOwn(key))
                {
                    throw member.Problem(key, "set it on the balance sink, not on a member");
                }
            }

            settings.Add(ReadSink(config, member, $"{index}.{m}", pipeline));
        }

        var duplicate = settings.GroupBy(s => s.Stage).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw sink.Problem("members", $"two members are the same stage {duplicate.Key}");
        }

        return new BalanceSinkSettings { Stage = $"balance-{index}", Hash = BalanceHash.Symmetric5Tuple, Members = settings };
    }

    /// <summary><c>{ type = pcap-over-ip, listen = "127.0.0.1:57012" }</c>; a listen address other than loopback
    /// needs the node's management token (<c>fabric.management.token</c> or <c>token-file</c>), which each client
    /// then sends as its first line.</summary>
    private static PcapOverIpSinkSettings ReadPcapOverIp(Config config, ConfigReader sink, string index)
    {
        sink.RejectUnknownKeys(PcapOverIpKeys);
        string text = sink.GetString("listen", allowEmpty: false);
        if (!IPEndPoint.TryParse(text, out var listen) || listen is null || listen.Port == 0)
        {
            throw sink.Problem("listen", $"expected an IP address and port, e.g. \"127.0.0.1:57012\", got \"{text}\"");
        }

        string? token = null;
        if (!IPAddress.IsLoopback(listen.Address))
        {
            token = NodeToken(config) ?? throw sink.Problem("listen",
                $"{listen} is not a loopback address: clients must then send the node's token, and this node has none (set fabric.management.token or token-file, or listen on 127.0.0.1)");
        }

        return new PcapOverIpSinkSettings
        {
            Stage = $"pcap-over-ip-{index}",
            Listen = listen,
            Token = token,
            MaxClients = sink.GetInt("max-clients", 1, 1024),
            ClientBufferBytes = (int)sink.GetByteSize("client-buffer", 65536, 1L << 30),
        };
    }

    /// <summary>The node's management token (<c>fabric.management.token-file</c> wins over <c>token</c>), or null.</summary>
    private static string? NodeToken(Config config)
    {
        var management = ConfigReader.At(config, "fabric.management");
        string file = management.Has("token-file") ? management.GetString("token-file") : "";
        if (file.Length > 0)
        {
            try
            {
                string fromFile = File.ReadAllText(file).Trim();
                return fromFile.Length > 0 ? fromFile : null;
            }
            catch (IOException e)
            {
                throw management.Problem("token-file", $"{file}: {e.Message}");
            }
            catch (UnauthorizedAccessException e)
            {
                throw management.Problem("token-file", $"{file}: {e.Message}");
            }
        }

        string token = management.Has("token") ? management.GetString("token") : "";
        return token.Length > 0 ? token : null;
    }

    /// <summary><c>when-full = wait | drop</c>; default wait for a pipeline's only sink, drop when it has several.</summary>
    private static SinkWhenFull ReadWhenFull(ConfigReader sink, int sinkCount) =>
        sink.Has("when-full") ? sink.GetEnum<SinkWhenFull>("when-full")
        : sinkCount == 1 ? SinkWhenFull.Wait : SinkWhenFull.Drop;

    // A duration, or off/none/0 (null) for "never".
    private static TimeSpan? OptionalDuration(ConfigReader reader, string key)
    {
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
