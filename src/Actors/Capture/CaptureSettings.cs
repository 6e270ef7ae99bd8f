using Fabric.Actors.DataPlane;
namespace Fabric.Actors.Capture;

/// <summary>How a pcap file source is replayed.</summary>
public enum FileSpeed
{
    /// <summary>As fast as the pipeline takes it.</summary>
    Topspeed,

    /// <summary>With the gaps recorded in the file.</summary>
    Original,
}

/// <summary>
/// The source of a pipeline: a live interface (<c>source { interface = ens4 }</c>) or a capture file
/// (<c>source { file = "/data/x.pcap", speed = topspeed }</c>), with the libpcap options.
/// </summary>
public sealed record CaptureSettings
{
    /// <summary>Live interface name, or null for a file source.</summary>
    public string? Interface { get; init; }

    /// <summary>Capture file (pcap or pcapng), or null for a live source.</summary>
    public string? File { get; init; }

    public FileSpeed Speed { get; init; } = FileSpeed.Topspeed;

    /// <summary>A stream source (frames from other nodes' stream sinks), or null.</summary>
    public StreamSourceSettings? Stream { get; init; }

    /// <summary>CPU the capture thread is pinned to; null: not pinned.</summary>
    public int? Cpu { get; init; }

    /// <summary>The pipeline's <c>nice</c> for the capture thread; null: left alone.</summary>
    public ThreadNice? Nice { get; init; }

    public int Snaplen { get; init; } = 65535;

    /// <summary>libpcap kernel buffer size in bytes; null: libpcap's default.</summary>
    public int? KernelBufferBytes { get; init; }

    public bool Promiscuous { get; init; } = true;

    /// <summary>BPF applied by the kernel to the outer (encapsulated) packets; null: none.</summary>
    public string? Filter { get; init; }

    /// <summary>A partly filled batch is handed on after this long, so a trickle of packets is not held back.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Longest wait between re-open attempts when the interface is gone.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Display name of the source: the interface, or the file name.</summary>
    public string SourceName => Interface ?? System.IO.Path.GetFileName(File) ?? (Stream is { } stream ? $"stream:{stream.Listen}" : "?");
}
