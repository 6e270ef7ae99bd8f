using Akka.Actor;
using Fabric.Actors.DataPlane;

namespace Fabric.Actors.Sinks;

/// <summary>
/// A PCAP sink: <c>{ type = pcap, directory = "/var/lib/fabric/pcap", rotate-size = 1GiB, rotate-interval = 1h,
/// keep-size = 20TiB, keep-age = 30d, precision = us }</c>. Files are <c>&lt;dir&gt;/&lt;pipeline&gt;-&lt;UTC
/// timestamp&gt;.pcap</c>.
/// </summary>
public sealed record PcapSinkSettings : SinkSettings
{
    public override IReadOnlyList<string> DropReasons => PcapSinkActor.DropReasons;

    public override IReadOnlyList<string> EventNames => PcapSinkActor.EventNames;

    public override Props CreateProps(BatchQueue queue, StageCounters counters) => PcapSinkActor.Props(this, queue, counters);

    public required string Directory { get; init; }

    /// <summary>File name prefix: the pipeline name.</summary>
    public required string Prefix { get; init; }

    /// <summary>Start a new file when the current one reaches this size; 0: never by size.</summary>
    public long RotateSize { get; init; } = 1L << 30;

    /// <summary>Start a new file after this long; null: never by time.</summary>
    public TimeSpan? RotateInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Remove the oldest files while all files together exceed this; 0: no limit.</summary>
    public long KeepSize { get; init; }

    /// <summary>Remove files older than this; null: no limit.</summary>
    public TimeSpan? KeepAge { get; init; }

    /// <summary>True: nanosecond timestamps (magic a1b23c4d); false: microseconds.</summary>
    public bool Nanoseconds { get; init; }

    /// <summary>File format: classic pcap (default) or pcapng with one interface per source id.</summary>
    public PcapFormat Format { get; init; } = PcapFormat.Pcap;

    /// <summary>pcapng only: ERSPAN III's hardware timestamp as the packet time where present (<c>timestamps = switch</c>).</summary>
    public bool SwitchTimestamps { get; init; }

    /// <summary>The file name extension of <see cref="Format"/>.</summary>
    public string Extension => Format == PcapFormat.PcapNg ? ".pcapng" : ".pcap";

    /// <summary>Write buffer: records are written to the file in chunks of this size.</summary>
    public int WriteBufferBytes { get; init; } = 1 << 20;

    /// <summary>Buffered records are written out at least this often.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>The format of a PCAP sink's files (<c>format = pcap | pcapng</c>).</summary>
public enum PcapFormat
{
    /// <summary>Classic pcap: one link type, no per-frame metadata.</summary>
    Pcap,

    /// <summary>pcapng: an interface per mirror session (source id), epb_flags direction.</summary>
    PcapNg,
}
