using System.Collections.Immutable;
using Akka.Actor;

namespace Fabric.Actors.Mirrors;

/// <summary>
/// The mirror backends a node knows, handed down from the top (the registry,
/// <c>Fabric.Actors.Mirrors.Registry.MirrorBackends</c>, builds the one set of the product; a test
/// may build its own). The root — settings, model, supervisor — looks backends up here and never
/// names one, so the backends depend on the root and the registry on the backends, never the reverse.
/// </summary>
public sealed class MirrorBackendSet
{
    public MirrorBackendSet(IEnumerable<IMirrorBackendPlugin> backends)
    {
        ArgumentNullException.ThrowIfNull(backends);
        All = [.. backends];
        if (All.IsEmpty)
        {
            throw new ArgumentException("expected at least one mirror backend", nameof(backends));
        }

        if (All.Select(b => b.Kind).Distinct().Count() != All.Length)
        {
            throw new ArgumentException("a mirror backend kind is registered twice", nameof(backends));
        }

        SiteKeys = AllSiteKeys(All);
        SessionKeys = AllSessionKeys(All);
    }

    /// <summary>The backends in registration order: the order in which a site's keys are listed and checked.</summary>
    public ImmutableArray<IMirrorBackendPlugin> All { get; }

    /// <summary>
    /// Every key of a <c>fabric.sites[]</c> entry: name and backend, then each backend's keys in
    /// registration order; the common audit-interval follows the first backend's keys, where the
    /// unknown-key message has always listed it.
    /// </summary>
    public ImmutableArray<string> SiteKeys { get; }

    /// <summary>Every key of a <c>fabric.mirrors[]</c> entry (and field of a defined session): the common ones, then each backend's options.</summary>
    public ImmutableArray<string> SessionKeys { get; }

    /// <summary>The keys of a <c>fabric.mirrors[]</c> entry every backend reads.</summary>
    public static ImmutableArray<string> CommonSessionKeys { get; } = ["name", "site", "backend", "bridge", "sources", "direction", "output", "snaplen", "enabled"];

    /// <summary>The kinds as written in HOCON, in registration order (<c>ovs, tc, …</c>).</summary>
    public string Names => string.Join(", ", All.Select(b => b.Name));

    /// <summary>The backend of <paramref name="kind"/>, or null when none is registered.</summary>
    public IMirrorBackendPlugin? Find(MirrorBackendKind kind)
    {
        foreach (var plugin in All)
        {
            if (plugin.Kind == kind)
            {
                return plugin;
            }
        }

        return null;
    }

    public IMirrorBackendPlugin Of(MirrorBackendKind kind) =>
        Find(kind) ?? throw new ArgumentOutOfRangeException(nameof(kind), kind, "no mirror backend registered for this kind");

    /// <summary>The Props of the agent of <paramref name="site"/>, from its backend.</summary>
    public Props AgentProps(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics)
    {
        ArgumentNullException.ThrowIfNull(site);
        return Of(site.Backend).AgentProps(site, settings, reportTo, metrics);
    }

    private static ImmutableArray<string> AllSiteKeys(ImmutableArray<IMirrorBackendPlugin> all)
    {
        var keys = new List<string> { "name", "backend" };
        for (var i = 0; i < all.Length; i++)
        {
            keys.AddRange(all[i].SiteKeys.Where(k => !keys.Contains(k)));
            if (i == 0)
            {
                keys.Add("audit-interval");
            }
        }

        return [.. keys];
    }

    private static ImmutableArray<string> AllSessionKeys(ImmutableArray<IMirrorBackendPlugin> all)
    {
        var keys = new List<string>(CommonSessionKeys);
        foreach (var backend in all)
        {
            keys.AddRange(backend.SessionKeys.Where(k => !keys.Contains(k)));
        }

        return [.. keys];
    }
}
