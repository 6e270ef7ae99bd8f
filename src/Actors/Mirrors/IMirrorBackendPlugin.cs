using System.Collections.Immutable;
using Akka.Actor;
using Fabric.Configuration;

namespace Fabric.Actors.Mirrors;

/// <summary>
/// Everything about one backend kind, owned by its folder (<c>Mirrors/Ovs</c>, <c>Mirrors/Tc</c>, …)
/// and registered once in <see cref="MirrorBackends"/>: its name, the keys it adds to a
/// <c>fabric.sites[]</c> entry and how they are read, the checks of its sessions' fields, and the
/// Props of its site agent, how its site is described. The root (settings, supervisor, routes) only
/// looks backends up through a <see cref="MirrorBackendSet"/>.
/// </summary>
public interface IMirrorBackendPlugin
{
    /// <summary>The kind (the <c>backend</c> value of a site, journaled in each session).</summary>
    MirrorBackendKind Kind { get; }

    /// <summary>The kind as written in HOCON (<c>ovs</c>, <c>iosxe</c>…).</summary>
    string Name => Kind.ToString().ToLowerInvariant();

    /// <summary>The keys of a <c>fabric.sites[]</c> entry this backend reads, besides name, backend and audit-interval.</summary>
    ImmutableArray<string> SiteKeys { get; }

    /// <summary>
    /// The option keys of a <c>fabric.mirrors[]</c> entry (and fields of a defined session) this
    /// backend reads, besides the common ones (<see cref="MirrorBackendSet.CommonSessionKeys"/>);
    /// each is a field of the journaled <see cref="MirrorBackendOptions"/>.
    /// </summary>
    ImmutableArray<string> SessionKeys => [];

    /// <summary>
    /// Whether this backend's sessions deliver to a Fabric pipeline, named in their options, and the
    /// agent reports the sessions the backend holds for each (<c>GET /mirror-paths</c>).
    /// </summary>
    bool HasPaths => false;

    /// <summary>Whether a session of this backend must name its <c>bridge</c>.</summary>
    bool NeedsBridge => false;

    /// <summary>The problem of one of <see cref="SiteKeys"/> set on a site of <paramref name="siteBackend"/>, which does not read it.</summary>
    string ForeignKeyProblem(string siteBackend) => $"not a key of backend {siteBackend}";

    /// <summary>
    /// Reads and checks this backend's <see cref="SiteKeys"/> of <paramref name="site"/> (keys of
    /// other backends are already refused) into its own record, kept opaque by the root in
    /// <see cref="MirrorSiteSettings.BackendSettings"/> (null: the backend has none); a problem is a
    /// <see cref="FabricConfigException"/> naming the key.
    /// </summary>
    MirrorBackendSiteSettings? ReadSite(ConfigReader site);

    /// <summary>What the agent of <paramref name="site"/> talks to (<c>GET /sites</c>), secrets redacted: name → value.</summary>
    ImmutableSortedDictionary<string, string> Describe(MirrorSiteSettings site);

    /// <summary>
    /// The checks of a session's sources, output, snaplen and options, after the common ones (name,
    /// site, bridge, at least one source): null when valid, otherwise (key, problem) as
    /// <see cref="MirrorSessionSpec.Check"/>.
    /// </summary>
    (string Key, string Problem)? Check(MirrorSessionSpec spec);

    /// <summary>The Props of the agent that applies the sessions of <paramref name="site"/>.</summary>
    Props AgentProps(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics);
}
