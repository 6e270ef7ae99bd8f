using Akka.Actor;
using Fabric.Actors.DataPlane;
using Fabric.Protocols.NodeStream;

namespace Fabric.Actors.Sinks;

/// <summary>
/// A stream to another Fabric node's <c>stream</c> source:
/// <c>{ type = stream, destination = "central.example:7400", compression = lz4 }</c>. TLS 1.3, mutual, with the
/// node's <c>fabric.remote.tls</c> files (docs/stream-protocol.md).
/// </summary>
public sealed record StreamSinkSettings : SinkSettings
{
    public override IReadOnlyList<string> DropReasons => StreamSinkActor.DropReasons;

    public override IReadOnlyList<string> EventNames => StreamSinkActor.EventNames;

    public override Props CreateProps(BatchQueue queue, StageCounters counters) => StreamSinkActor.Props(this, queue, counters);

    /// <summary>Host name or address of the receiving node.</summary>
    public required string Host { get; init; }

    public required int Port { get; init; }

    public StreamCompression Compression { get; init; } = StreamCompression.Lz4;

    /// <summary>Compression level (LZ4 0-12, zstd 1-19).</summary>
    public int Level { get; init; } = 1;

    /// <summary>Records (batches) encoded and waiting for the socket: the bounded send buffer.</summary>
    public int SendBuffer { get; init; } = 4;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A write that makes no progress for this long closes the connection (the record is sent again on the next one).</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest wait between reconnect attempts (the first is 100 ms; each failure doubles it).</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>when-full = wait</c>: longest a batch waits for room in the send buffer before it is dropped.</summary>
    public TimeSpan WaitTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The node's certificate and peer check (from <c>fabric.remote.tls</c>).</summary>
    public required StreamTls Tls { get; init; }
}
