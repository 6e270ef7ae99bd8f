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

    /// <summary>Write buffer: records are written to the file in chunks of this size.</summary>
    public int WriteBufferBytes { get; init; } = 1 << 20;

    /// <summary>Buffered records are written out at least this often.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);
}
