using System.Collections.Immutable;
using Akka.Actor;
using Fabric.Configuration;

namespace Fabric.Actors.Mirrors.Tc;

/// <summary>
/// Backend <c>tc</c>: Linux tc mirred filters on this host's devices. No site keys; sessions
/// mirror whole devices (no VLAN sources, no output VLAN, no snaplen); the agent is
/// <see cref="TcMirrorAgent"/>.
/// </summary>
public sealed class TcPlugin : IMirrorBackendPlugin
{
    public MirrorBackendKind Kind => MirrorBackendKind.Tc;

    public ImmutableArray<string> SiteKeys { get; } = [];

    public MirrorBackendSiteSettings? ReadSite(ConfigReader site) => null;

    public ImmutableSortedDictionary<string, string> Describe(MirrorSiteSettings site) =>
        ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("tc", "this host")]);

    public (string Key, string Problem)? Check(MirrorSessionSpec spec) => PortSessionChecks.Check(
        spec,
        vlanSourceProblem: "VLAN sources need backend ovs (tc mirrors whole devices)",
        vlanOutputProblem: "an output VLAN needs backend ovs (tc mirrors to a device)",
        snapLengthProblem: "snaplen needs backend ovs (tc mirred copies whole frames)");

    public Props AgentProps(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics) =>
        TcMirrorAgent.Props(site, settings, reportTo, metrics);
}
