using System.Collections.Immutable;
using System.Globalization;
using Akka.Actor;
using Akka.Cluster;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Mirrors.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Fabric.Node.Management;

/// <summary>
/// <c>GET /sites</c>: every <c>fabric.sites[]</c> entry with its backend endpoints (never a
/// secret: secret files are shown by path only, AWS credentials come from the standard chain),
/// the cluster node its agent runs on and whether that agent reaches its backend. The agent is
/// found by asking <c>/user/mirror-agent-&lt;site&gt;/singleton</c> on each member with role
/// <c>site-&lt;site&gt;</c>.
/// </summary>
public sealed class SiteRoutes : IManagementRoutes
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(2);

    public void Map(IEndpointRouteBuilder routes) => routes.MapGet("/sites", ListAsync);

    private static async Task<IResult> ListAsync(ActorSystem system)
    {
        var settings = MirrorsExtension.Get(system).Settings;
        if (settings is null)
        {
            return ManagementResults.Error(StatusCodes.Status503ServiceUnavailable, "mirror supervision is not running on this node");
        }

        var members = Cluster.Get(system).State.Members.Where(m => m.Status == MemberStatus.Up).ToList();
        var sites = await Task.WhenAll(settings.Sites.Select(site => Describe(system, site, settings.Backends, members))).ConfigureAwait(false);
        return Results.Json(new SiteListJson(sites), ManagementResults.Json);
    }

    private static async Task<SiteJson> Describe(ActorSystem system, MirrorSiteSettings site, MirrorBackendSet backends, List<Member> members)
    {
        var candidates = members.Where(m => m.HasRole(site.Role)).ToList();
        var answers = await Task.WhenAll(candidates.Select(async m =>
        {
            try
            {
                var selection = system.ActorSelection(m.Address + "/user/" + MirrorsFeature.AgentName(site.Name) + "/singleton");
                return (Member: m, State: (AgentState?)await selection.Ask<AgentState>(GetAgentState.Instance, AskTimeout).ConfigureAwait(false));
            }
            catch (AskTimeoutException)
            {
                return (Member: m, State: (AgentState?)null);
            }
        })).ConfigureAwait(false);
        var agent = answers.FirstOrDefault(a => a.State is not null);
        var reachability = agent.State is null
            ? candidates.Count == 0 ? $"no agent: no member with role {site.Role} is up" : "no agent answered"
            : agent.State.Connected ? "reachable" : "unreachable: " + agent.State.ConnectionProblem;
        return new SiteJson(
            site.Name,
            site.Backend.ToString().ToLowerInvariant(),
            Endpoints(site, backends),
            agent.State?.Connected,
            reachability,
            agent.State is null ? null : agent.Member.Address.ToString(),
            site.AuditInterval.TotalSeconds);
    }

    /// <summary>What the site's agent talks to, secrets redacted: its backend describes it.</summary>
    public static ImmutableSortedDictionary<string, string> Endpoints(MirrorSiteSettings site, MirrorBackendSet backends)
    {
        ArgumentNullException.ThrowIfNull(site);
        ArgumentNullException.ThrowIfNull(backends);
        return backends.Of(site.Backend).Describe(site);
    }

    public sealed record SiteListJson(IReadOnlyList<SiteJson> Sites);

    public sealed record SiteJson(
        string Name,
        string Backend,
        IReadOnlyDictionary<string, string> Endpoints,
        bool? Reachable,
        string Reachability,
        string? AgentNode,
        double AuditIntervalSeconds)
    {
        public string AuditInterval => AuditIntervalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";
    }
}
