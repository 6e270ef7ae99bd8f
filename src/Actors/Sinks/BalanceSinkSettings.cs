using Akka.Actor;
using Fabric.Actors.DataPlane;

namespace Fabric.Actors.Sinks;

/// <summary>What a balance sink hashes each inner frame on.</summary>
public enum BalanceHash
{
    /// <summary><c>symmetric-5tuple</c>: IP addresses, protocol and TCP/UDP/SCTP ports, the two endpoints in a
    /// fixed order so both directions of a flow hash the same; the IP pair only for fragments and protocols
    /// without ports; the MAC pair for frames that are not IP (<see cref="Fabric.Protocols.Flows.FlowHasher"/>).</summary>
    Symmetric5Tuple,
}

/// <summary>
/// A balance sink: <c>{ type = balance, hash = symmetric-5tuple, members = [ { type = tap, device = mon0 }, ... ] }</c>.
/// Spreads the inner frames over its members by flow (rendezvous hashing over the members that are up); each
/// member is a sink of its own with its own counters (under this stage's <see cref="StageSnapshot.Members"/>).
/// </summary>
public sealed record BalanceSinkSettings : SinkSettings
{
    /// <summary>Most members of one balance sink (one bit each in the health mask).</summary>
    public const int MaxMembers = 64;

    public override IReadOnlyList<string> DropReasons => BalanceSinkActor.DropReasons;

    /// <summary><c>moved</c> (frames sent to another member than their own because it was down),
    /// <c>member-down</c>, <c>member-up</c>, then <c>to-&lt;member stage&gt;</c> per member (frames handed to it).</summary>
    public override IReadOnlyList<string> EventNames => [.. BalanceSinkActor.FixedEventNames, .. Members.Select(m => BalanceSinkActor.ToMemberEvent(m.Stage))];

    public BalanceHash Hash { get; init; } = BalanceHash.Symmetric5Tuple;

    /// <summary>The member sinks, at least two.</summary>
    public required IReadOnlyList<SinkSettings> Members { get; init; }

    /// <summary>The balance stage's counters with one inner set per member.</summary>
    public override StageCounters NewCounters() =>
        new(Stage, DropReasons, EventNames) { Members = [.. Members.Select(m => m.NewCounters())] };

    public override Props CreateProps(BatchQueue queue, StageCounters counters) => BalanceSinkActor.Props(this, queue, counters);
}
