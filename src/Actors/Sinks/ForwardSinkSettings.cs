using System.Net;
using Akka.Actor;
using Fabric.Actors.DataPlane;

namespace Fabric.Actors.Sinks;

/// <summary>How a forwarder wraps inner frames.</summary>
public enum ForwardEncapsulation
{
    /// <summary>VXLAN (RFC 7348) over UDP.</summary>
    Vxlan,

    /// <summary>Transparent Ethernet bridging over GRE (0x6558) on a raw IP socket.</summary>
    Gre,

    /// <summary>ERSPAN type II over GRE on a raw IP socket.</summary>
    Erspan,
}

/// <summary>What a forwarder does with a frame that does not fit the path MTU.</summary>
public enum OversizePolicy
{
    /// <summary>Cut the inner frame so the packet fits (counted as truncated; still delivered).</summary>
    Truncate,

    /// <summary>Let the kernel fragment the outer IP packet (counted as fragmented).</summary>
    Fragment,
}

/// <summary>
/// A forwarder: <c>{ type = forward, encapsulation = vxlan, destination = "192.0.2.9:4789", vni = 42 }</c>.
/// </summary>
public sealed record ForwardSinkSettings : SinkSettings
{
    public override IReadOnlyList<string> DropReasons => ForwarderSinkActor.DropReasons;

    public override IReadOnlyList<string> EventNames => ForwarderSinkActor.EventNames;

    public override Props CreateProps(BatchQueue queue, StageCounters counters) => ForwarderSinkActor.Props(this, queue, counters);

    public ForwardEncapsulation Encapsulation { get; init; } = ForwardEncapsulation.Vxlan;

    public required IPEndPoint Destination { get; init; }

    /// <summary>VXLAN network identifier (24 bits).</summary>
    public int Vni { get; init; }

    /// <summary>ERSPAN session id (10 bits) or GRE key.</summary>
    public int SessionId { get; init; }

    /// <summary>Largest outer IP packet sent.</summary>
    public int Mtu { get; init; } = 1500;

    public OversizePolicy Oversize { get; init; } = OversizePolicy.Truncate;
}
