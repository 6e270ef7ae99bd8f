using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Fabric.Configuration;

namespace Fabric.Actors.Mirrors;

/// <summary>One <c>fabric.sites[]</c> entry: a place whose mirrors one agent applies.</summary>
/// <param name="Name">Site name; nodes with role <c>site-&lt;name&gt;</c> may act for it.</param>
/// <param name="Backend">Its backend (<see cref="IMirrorBackendPlugin"/>), which reads the rest of the entry.</param>
/// <param name="BackendSettings">What only its backend reads (its own record, in its folder: the OVSDB
/// endpoint, the API, the region…), opaque here; null when the backend has no keys of its own.</param>
/// <param name="AuditInterval">Full reconciliation interval besides events.</param>
/// <remarks>Read from configuration on every node; neither journaled nor sent between nodes.</remarks>
public sealed record MirrorSiteSettings(string Name, MirrorBackendKind Backend, MirrorBackendSiteSettings? BackendSettings, TimeSpan AuditInterval)
{
    /// <summary>The cluster role of the nodes that may act for this site.</summary>
    public string Role => "site-" + Name;

    /// <summary>The backend's own record, as its plug-in read it.</summary>
    public T Own<T>()
        where T : MirrorBackendSiteSettings =>
        BackendSettings as T ?? throw new InvalidOperationException($"site {Name} ({Backend.ToString().ToLowerInvariant()}): no {typeof(T).Name}");
}

/// <summary>
/// The base of a backend's own part of a site (<c>OvsdbSiteSettings</c>, <c>ProxmoxSiteSettings</c>,
/// <c>AwsSiteSettings</c>…), defined in the backend's folder and read by its plug-in.
/// </summary>
public abstract record MirrorBackendSiteSettings;

/// <summary>
/// <c>fabric.sites</c>, <c>fabric.mirrors</c>, <c>fabric.mirror-agent</c> and
/// <c>fabric.mirror-supervisor</c>, validated: every problem is a <see cref="FabricConfigException"/>
/// naming the HOCON path (e.g. <c>fabric.mirrors[0].sources[1]</c>).
/// </summary>
public sealed partial class MirrorSettings
{
    /// <summary>The reference configuration's <c>fabric.mirror-agent</c> and <c>fabric.mirror-supervisor</c>: the one place of their defaults.</summary>
    private static readonly Lazy<(ConfigReader Agent, ConfigReader Supervisor)> Reference = new(() =>
    {
        var fabric = ConfigReader.At(FabricConfig.Reference, "fabric");
        return (fabric.GetObject("mirror-agent"), fabric.GetObject("mirror-supervisor"));
    });

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,39}$", RegexOptions.CultureInvariant)]
    private static partial Regex SiteNameSyntax();

    public required ImmutableArray<MirrorSiteSettings> Sites { get; init; }

    public required ImmutableArray<MirrorSessionSpec> Mirrors { get; init; }

    /// <summary>The backends these settings were read with (the registry's, handed down by the feature).</summary>
    public required MirrorBackendSet Backends { get; init; }

    /// <summary>First delay before reconnecting to a backend; doubles up to <see cref="ReconnectMaxBackoff"/>.</summary>
    public TimeSpan ReconnectMinBackoff { get; init; } = Reference.Value.Agent.GetDuration("reconnect-min-backoff");

    public TimeSpan ReconnectMaxBackoff { get; init; } = Reference.Value.Agent.GetDuration("reconnect-max-backoff");

    /// <summary>How often an agent reports its sessions' status to the supervisor.</summary>
    public TimeSpan ReportInterval { get; init; } = Reference.Value.Agent.GetDuration("report-interval");

    /// <summary>Repairs kept per session in the supervisor's state.</summary>
    public int HistoryPerSession { get; init; } = Reference.Value.Supervisor.GetInt("history-per-session");

    /// <summary>The supervisor saves a snapshot after this many events.</summary>
    public int SnapshotEvery { get; init; } = Reference.Value.Supervisor.GetInt("snapshot-every");

    /// <summary>First delay before the supervisor reads its journal again after a failure; doubles up to <see cref="JournalMaxBackoff"/>.</summary>
    public TimeSpan JournalMinBackoff { get; init; } = Reference.Value.Supervisor.GetDuration("journal-min-backoff");

    public TimeSpan JournalMaxBackoff { get; init; } = Reference.Value.Supervisor.GetDuration("journal-max-backoff");

    /// <summary>The site named <paramref name="name"/>, or null.</summary>
    public MirrorSiteSettings? Site(string name) => Sites.FirstOrDefault(s => s.Name == name);

    /// <summary>
    /// Reads and validates the mirror sections of <paramref name="config"/> (layered over the
    /// reference configuration, which supplies every default) with <paramref name="backends"/>.
    /// </summary>
    public static MirrorSettings Read(Config config, MirrorBackendSet backends)
    {
        ArgumentNullException.ThrowIfNull(backends);
        var fabric = ConfigReader.At(config, "fabric");
        var sites = new List<MirrorSiteSettings>();
        foreach (var site in fabric.GetObjectList("sites"))
        {
            site.RejectUnknownKeys([.. backends.SiteKeys]);
            var name = site.GetString("name", allowEmpty: false);
            if (!SiteNameSyntax().IsMatch(name))
            {
                throw site.Problem("name", $"expected 1-40 characters [a-z0-9-] starting with a letter or digit, got \"{name}\"");
            }

            if (sites.Any(s => s.Name == name))
            {
                throw site.Problem("name", $"site \"{name}\" is declared twice");
            }

            var backend = backends.Find(site.GetEnum<MirrorBackendKind>("backend")) ?? throw site.Problem("backend", $"no mirror backend registered (registered: {backends.Names})");
            foreach (var other in backends.All)
            {
                foreach (var key in other.SiteKeys)
                {
                    if (site.Has(key) && !backend.SiteKeys.Contains(key))
                    {
                        throw site.Problem(key, other.ForeignKeyProblem(backend.Name));
                    }
                }
            }

            var audit = site.Has("audit-interval") ? site.GetDuration("audit-interval", TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)) : TimeSpan.FromSeconds(30);
            sites.Add(new MirrorSiteSettings(name, backend.Kind, backend.ReadSite(site), audit));
        }

        var mirrors = new List<MirrorSessionSpec>();
        foreach (var mirror in fabric.GetObjectList("mirrors"))
        {
            var spec = ReadMirror(mirror, sites, backends);
            if (mirrors.Any(m => m.Name == spec.Name))
            {
                throw mirror.Problem("name", $"mirror \"{spec.Name}\" is declared twice");
            }

            mirrors.Add(spec);
        }

        // Every key below is in the reference configuration (hocon/fabric.conf): its default lives there only.
        var agent = fabric.GetObject("mirror-agent");
        var supervisor = fabric.GetObject("mirror-supervisor");
        var min = agent.GetDuration("reconnect-min-backoff", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1));
        var max = agent.GetDuration("reconnect-max-backoff", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10));
        if (max < min)
        {
            throw agent.Problem("reconnect-max-backoff", "must not be shorter than reconnect-min-backoff");
        }

        var journalMin = supervisor.GetDuration("journal-min-backoff", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1));
        var journalMax = supervisor.GetDuration("journal-max-backoff", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10));
        if (journalMax < journalMin)
        {
            throw supervisor.Problem("journal-max-backoff", "must not be shorter than journal-min-backoff");
        }

        return new MirrorSettings
        {
            Sites = [.. sites],
            Mirrors = [.. mirrors],
            Backends = backends,
            ReconnectMinBackoff = min,
            ReconnectMaxBackoff = max,
            ReportInterval = agent.GetDuration("report-interval", TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5)),
            HistoryPerSession = supervisor.GetInt("history-per-session", 1, 100_000),
            SnapshotEvery = supervisor.GetInt("snapshot-every", 10, 1_000_000),
            JournalMinBackoff = journalMin,
            JournalMaxBackoff = journalMax,
        };
    }

    private static MirrorSessionSpec ReadMirror(ConfigReader mirror, IReadOnlyList<MirrorSiteSettings> sites, MirrorBackendSet backends)
    {
        mirror.RejectUnknownKeys([.. backends.SessionKeys]);
        var name = mirror.GetString("name", allowEmpty: false);
        var siteName = mirror.GetString("site", allowEmpty: false);
        var site = sites.FirstOrDefault(s => s.Name == siteName)
            ?? throw mirror.Problem("site", $"no site \"{siteName}\" in fabric.sites (declared: {(sites.Count == 0 ? "none" : string.Join(", ", sites.Select(s => s.Name)))})");
        var backend = site.Backend;
        if (mirror.Has("backend"))
        {
            backend = mirror.GetEnum<MirrorBackendKind>("backend");
            if (backend != site.Backend)
            {
                throw mirror.Problem("backend", $"site \"{siteName}\" uses backend {site.Backend.ToString().ToLowerInvariant()}, not {backend.ToString().ToLowerInvariant()}");
            }
        }

        var spec = new MirrorSessionSpec(
            name,
            siteName,
            backend,
            mirror.GetOptionalString("bridge") ?? "",
            [.. mirror.GetStringList("sources")],
            mirror.Has("direction") ? mirror.GetEnum<MirrorDirection>("direction") : MirrorDirection.Both,
            mirror.GetString("output", allowEmpty: false),
            mirror.Has("snaplen") ? mirror.GetInt("snaplen", 14, 65535) : null,
            !mirror.Has("enabled") || mirror.GetBool("enabled"),
            ReadOptions(mirror));
        if (spec.Check(backends) is { } problem)
        {
            throw mirror.Problem(problem.Key, problem.Problem);
        }

        return spec;
    }

    private static MirrorBackendOptions? ReadOptions(ConfigReader mirror)
    {
        int? Int(string key) => mirror.Has(key) ? mirror.GetInt(key) : null;
        var options = new MirrorBackendOptions(
            Int("session-number"),
            Int("erspan-id"),
            mirror.GetOptionalString("origin-ip"),
            Int("mtu"),
            mirror.GetOptionalString("filter-id"),
            Int("vni"),
            Int("packet-length"),
            mirror.GetOptionalString("pipeline"));
        return options == MirrorBackendOptions.None ? null : options;
    }
}
