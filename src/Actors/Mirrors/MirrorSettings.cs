using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Fabric.Actors.Configuration;
using Fabric.Protocols.Ovsdb;

namespace Fabric.Actors.Mirrors;

/// <summary>One <c>fabric.sites[]</c> entry: a place whose mirrors one agent applies.</summary>
/// <param name="Name">Site name; nodes with role <c>site-&lt;name&gt;</c> may act for it.</param>
/// <param name="Backend">Its backend (<see cref="MirrorBackends"/>), which reads the rest of the entry.</param>
/// <param name="Ovsdb">OVSDB endpoint (ovs only).</param>
/// <param name="AuditInterval">Full reconciliation interval besides events.</param>
public sealed record MirrorSiteSettings(string Name, MirrorBackendKind Backend, OvsdbEndpoint? Ovsdb, TimeSpan AuditInterval)
{
    /// <summary>The cluster role of the nodes that may act for this site.</summary>
    public string Role => "site-" + Name;

    /// <summary>The HTTPS API of an iosxe (RESTCONF) or proxmox (PVE API) site.</summary>
    public MirrorApiSettings? Api { get; init; }

    /// <summary>proxmox: each PVE node's OVSDB endpoint (<c>nodes { pve1 = "tcp:10.0.0.1:6640" }</c>).</summary>
    public ImmutableDictionary<string, OvsdbEndpoint> ProxmoxNodes { get; init; } = ImmutableDictionary<string, OvsdbEndpoint>.Empty;

    /// <summary>aws: the region (e.g. eu-west-1).</summary>
    public string? AwsRegion { get; init; }

    /// <summary>aws: an EC2 endpoint other than the region's (VPC endpoint, or a test double).</summary>
    public Uri? AwsServiceUrl { get; init; }
}

/// <summary>
/// An HTTPS management API: its base URL, the user (IOS-XE user name, or the Proxmox token id
/// <c>USER@REALM!TOKENID</c>), the file holding the secret (password or token secret; refused when
/// readable by others), and how the server's certificate is verified: a CA file (PEM) or a pinned
/// SHA-256 fingerprint of the certificate. Holds no secret itself.
/// </summary>
public sealed record MirrorApiSettings(Uri Url, string User, string SecretFile, string? CaFile, string? Fingerprint);

/// <summary>
/// <c>fabric.sites</c>, <c>fabric.mirrors</c>, <c>fabric.mirror-agent</c> and
/// <c>fabric.mirror-supervisor</c>, validated: every problem is a <see cref="FabricConfigException"/>
/// naming the HOCON path (e.g. <c>fabric.mirrors[0].sources[1]</c>).
/// </summary>
public sealed partial class MirrorSettings
{
    /// <summary>Default OVSDB endpoint of a Debian/Proxmox Open vSwitch.</summary>
    public const string DefaultOvsdb = "unix:/var/run/openvswitch/db.sock";

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,39}$", RegexOptions.CultureInvariant)]
    private static partial Regex SiteNameSyntax();

    public required ImmutableArray<MirrorSiteSettings> Sites { get; init; }

    public required ImmutableArray<MirrorSessionSpec> Mirrors { get; init; }

    /// <summary>First delay before reconnecting to a backend; doubles up to <see cref="ReconnectMaxBackoff"/>.</summary>
    public TimeSpan ReconnectMinBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan ReconnectMaxBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often an agent reports its sessions' status to the supervisor.</summary>
    public TimeSpan ReportInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Repairs kept per session in the supervisor's state.</summary>
    public int HistoryPerSession { get; init; } = 200;

    /// <summary>The supervisor saves a snapshot after this many events.</summary>
    public int SnapshotEvery { get; init; } = 500;

    /// <summary>First delay before the supervisor reads its journal again after a failure; doubles up to <see cref="JournalMaxBackoff"/>.</summary>
    public TimeSpan JournalMinBackoff { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan JournalMaxBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The site named <paramref name="name"/>, or null.</summary>
    public MirrorSiteSettings? Site(string name) => Sites.FirstOrDefault(s => s.Name == name);

    /// <summary>Reads and validates the mirror sections of <paramref name="config"/>.</summary>
    public static MirrorSettings Read(Config config)
    {
        var fabric = ConfigReader.At(config, "fabric");
        var sites = new List<MirrorSiteSettings>();
        foreach (var site in fabric.GetObjectList("sites"))
        {
            site.RejectUnknownKeys([.. MirrorBackends.SiteKeys]);
            var name = site.GetString("name", allowEmpty: false);
            if (!SiteNameSyntax().IsMatch(name))
            {
                throw site.Problem("name", $"expected 1-40 characters [a-z0-9-] starting with a letter or digit, got \"{name}\"");
            }

            if (sites.Any(s => s.Name == name))
            {
                throw site.Problem("name", $"site \"{name}\" is declared twice");
            }

            var backend = MirrorBackends.Of(site.GetEnum<MirrorBackendKind>("backend"));
            foreach (var other in MirrorBackends.All)
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
            sites.Add(backend.ReadSite(site, new MirrorSiteSettings(name, backend.Kind, null, audit)));
        }

        var mirrors = new List<MirrorSessionSpec>();
        foreach (var mirror in fabric.GetObjectList("mirrors"))
        {
            var spec = ReadMirror(mirror, sites);
            if (mirrors.Any(m => m.Name == spec.Name))
            {
                throw mirror.Problem("name", $"mirror \"{spec.Name}\" is declared twice");
            }

            mirrors.Add(spec);
        }

        var agent = fabric.GetObject("mirror-agent");
        var supervisor = fabric.GetObject("mirror-supervisor");
        var min = agent.Has("reconnect-min-backoff") ? agent.GetDuration("reconnect-min-backoff", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1)) : TimeSpan.FromMilliseconds(100);
        var max = agent.Has("reconnect-max-backoff") ? agent.GetDuration("reconnect-max-backoff", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10)) : TimeSpan.FromSeconds(5);
        if (max < min)
        {
            throw agent.Problem("reconnect-max-backoff", "must not be shorter than reconnect-min-backoff");
        }

        var journalMin = supervisor.Has("journal-min-backoff") ? supervisor.GetDuration("journal-min-backoff", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1)) : TimeSpan.FromMilliseconds(500);
        var journalMax = supervisor.Has("journal-max-backoff") ? supervisor.GetDuration("journal-max-backoff", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10)) : TimeSpan.FromSeconds(5);
        if (journalMax < journalMin)
        {
            throw supervisor.Problem("journal-max-backoff", "must not be shorter than journal-min-backoff");
        }

        return new MirrorSettings
        {
            Sites = [.. sites],
            Mirrors = [.. mirrors],
            ReconnectMinBackoff = min,
            ReconnectMaxBackoff = max,
            ReportInterval = agent.Has("report-interval") ? agent.GetDuration("report-interval", TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5)) : TimeSpan.FromSeconds(2),
            HistoryPerSession = supervisor.Has("history-per-session") ? supervisor.GetInt("history-per-session", 1, 100_000) : 200,
            SnapshotEvery = supervisor.Has("snapshot-every") ? supervisor.GetInt("snapshot-every", 10, 1_000_000) : 500,
            JournalMinBackoff = journalMin,
            JournalMaxBackoff = journalMax,
        };
    }

    private static MirrorSessionSpec ReadMirror(ConfigReader mirror, IReadOnlyList<MirrorSiteSettings> sites)
    {
        mirror.RejectUnknownKeys("name", "site", "backend", "bridge", "sources", "direction", "output", "snaplen", "enabled", "session-number", "erspan-id", "origin-ip", "mtu", "filter-id", "vni", "packet-length", "pipeline");
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
        if (spec.Check() is { } problem)
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
