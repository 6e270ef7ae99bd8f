using System.Net;
using Fabric.Protocols.NodeStream;

namespace Fabric.Actors.Capture;

/// <summary>
/// <c>source { stream { listen = "0.0.0.0:7400" } }</c>: the pipeline's frames come from other Fabric nodes'
/// <c>stream</c> sinks, over TLS 1.3 with the node's <c>fabric.remote.tls</c> files (docs/stream-protocol.md).
/// </summary>
public sealed record StreamSourceSettings
{
    public required IPEndPoint Listen { get; init; }

    /// <summary>Senders connected at once; one more is closed at once and counted as too-many-connections.</summary>
    public int MaxConnections { get; init; } = 8;

    /// <summary>Largest raw (uncompressed) record this receiver takes; a larger one closes the connection (too-large).</summary>
    public int MaxRecordBytes { get; init; } = 16 << 20;

    /// <summary>A sender that has not finished the TLS handshake after this long is closed (tls-failed).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public required StreamTls Tls { get; init; }
}
