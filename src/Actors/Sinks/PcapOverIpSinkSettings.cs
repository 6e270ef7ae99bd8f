using System.Net;
using Akka.Actor;
using Fabric.Actors.DataPlane;

namespace Fabric.Actors.Sinks;

/// <summary>
/// A pcap-over-ip sink: <c>{ type = pcap-over-ip, listen = "127.0.0.1:57012" }</c>. Every client that connects gets
/// the pipeline's inner frames from then on as a classic pcap stream (file header, then records): Arkime's
/// <c>pcapReadMethod=pcap-over-ip-client</c>, or <c>nc 127.0.0.1 57012 | tcpdump -r -</c>. A client more than
/// <see cref="ClientBufferBytes"/> behind is disconnected and counted; it never holds capture back.
/// </summary>
public sealed record PcapOverIpSinkSettings : SinkSettings
{
    public override IReadOnlyList<string> DropReasons => PcapOverIpSinkActor.DropReasons;

    public override IReadOnlyList<string> EventNames => PcapOverIpSinkActor.EventNames;

    public override Props CreateProps(BatchQueue queue, StageCounters counters) => PcapOverIpSinkActor.Props(this, queue, counters);

    public override Props CreateProps(BatchQueue queue, StageCounters counters, SinkHealth health) => PcapOverIpSinkActor.Props(this, queue, counters, health);

    public required IPEndPoint Listen { get; init; }

    /// <summary>The token a client must send as its first line (then a newline) before it gets frames; null: none
    /// (only when <see cref="Listen"/> is a loopback address). The node's management token.</summary>
    public string? Token { get; init; }

    /// <summary>Clients served at once; one more is refused (counted as <c>client-refused</c>).</summary>
    public int MaxClients { get; init; } = 8;

    /// <summary>Bytes queued for one client before it counts as too slow and is disconnected.</summary>
    public int ClientBufferBytes { get; init; } = 16 << 20;

    /// <summary>How long a client has to send the token.</summary>
    public TimeSpan TokenTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
