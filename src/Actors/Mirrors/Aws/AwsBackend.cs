using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Fabric.Actors.Mirrors.Backends;
using Fabric.Protocols;

namespace Fabric.Actors.Mirrors.Aws;

/// <summary>
/// AWS VPC Traffic Mirroring for one site (account + region). A session is a rule: every network
/// interface matching its selectors (<c>tag:Key=Value</c>, <c>vpc:</c>, <c>subnet:</c>) gets a
/// traffic mirror session to the target (<c>output</c>, tmt-…) with the filter, VNI, packet length
/// and session number of the rule. Each cycle it creates sessions for new matching ENIs
/// (scale-out), deletes the sessions it created whose ENI no longer matches or is gone
/// (scale-in) or whose parameters differ from the rule, and never touches sessions without its
/// tags (<c>fabric-session</c>, <c>fabric-site</c>). Creates carry a ClientToken derived from
/// site, rule, ENI and parameters, so a retried or repeated create (agent restart) makes no
/// duplicate (a token whose session was deleted since is followed by the next generation).
/// <c>TrafficMirrorSessionsPerInterfaceLimitExceeded</c> (3 sessions per source ENI)
/// makes the rule <c>degraded</c> naming the ENI. Throttling (<c>RequestLimitExceeded</c>) is
/// retried with exponential backoff and jitter; when it persists the site counts as unreachable.
/// A rule without a VNI leaves it to AWS (a unique VNI per session). Each outcome carries the
/// rule's sessions as they are (ENI, instance, Name tag, session id, number, VNI, target) so the
/// console can show source → session → sensor → pipeline.
/// </summary>
public sealed class AwsBackend : IMirrorBackend
{
    public const string SessionTag = "fabric-session";
    public const string SiteTag = "fabric-site";
    public const string LimitExceeded = "TrafficMirrorSessionsPerInterfaceLimitExceeded";
    private const int MaxTokenGenerations = 64;
    private readonly IAmazonEC2 _ec2;
    private readonly string _site;
    private readonly TimeSpan _firstBackoff;
    private readonly int _attempts;

    public AwsBackend(IAmazonEC2 ec2, string site, TimeSpan firstBackoff, int attempts = 6)
    {
        _ec2 = ec2;
        _site = site;
        _firstBackoff = firstBackoff;
        _attempts = attempts;
    }

    /// <summary>
    /// An EC2 client for <paramref name="site"/>: credentials from the standard AWS chain
    /// (environment, profile, web identity, instance/container role), the site's region, and its
    /// service-url when set. The SDK's own retries are off: <see cref="AwsBackend"/> retries
    /// throttling itself, with backoff.
    /// </summary>
    public static AmazonEC2Client CreateClient(MirrorSiteSettings site, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(site);
        var own = site.Own<AwsSiteSettings>();
        var config = new AmazonEC2Config { MaxErrorRetry = 0, Timeout = timeout };
        if (own.ServiceUrl is { } url)
        {
            config.ServiceURL = url.ToString();
            config.AuthenticationRegion = own.Region;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(own.Region);
        }

        return new AmazonEC2Client(config);
    }

    public bool Accepts(MirrorSessionSpec spec) => spec?.Backend == MirrorBackendKind.Aws;

    public async Task<MirrorBackendOutcome> ReconcileAsync(MirrorSessionSpec spec, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var o = spec.Opts;
        var number = o.SessionNumber ?? 1;
        var enis = await MatchingEnis(spec, cancellationToken).ConfigureAwait(false);
        var ours = await Sessions([new Filter { Name = "tag:" + SessionTag, Values = [spec.Name] }, new Filter { Name = "tag:" + SiteTag, Values = [_site] }], cancellationToken).ConfigureAwait(false);
        var changes = new List<string>();
        var limited = new List<string>();
        foreach (var session in ours)
        {
            var why = !enis.ContainsKey(session.NetworkInterfaceId) ? "no longer matches"
                : !Matches(session, spec, number) ? "parameters differ from the rule"
                : null;
            if (why is null)
            {
                continue;
            }

            await Call(() => _ec2.DeleteTrafficMirrorSessionAsync(new DeleteTrafficMirrorSessionRequest { TrafficMirrorSessionId = session.TrafficMirrorSessionId }, cancellationToken)).ConfigureAwait(false);
            changes.Add($"deleted {session.TrafficMirrorSessionId} of {session.NetworkInterfaceId} ({why})");
        }

        var kept = ours.Where(s => enis.ContainsKey(s.NetworkInterfaceId) && Matches(s, spec, number)).Select(s => s.NetworkInterfaceId).ToHashSet(StringComparer.Ordinal);
        foreach (var eni in enis.Keys.Where(e => !kept.Contains(e)).Order(StringComparer.Ordinal))
        {
            var request = new CreateTrafficMirrorSessionRequest
            {
                NetworkInterfaceId = eni,
                TrafficMirrorTargetId = spec.Output,
                TrafficMirrorFilterId = o.FilterId,
                SessionNumber = number,
                Description = "Fabric mirror session " + spec.Name,
                TagSpecifications =
                [
                    new TagSpecification
                    {
                        ResourceType = ResourceType.TrafficMirrorSession,
                        Tags = [new Tag(SessionTag, spec.Name), new Tag(SiteTag, _site)],
                    },
                ],
            };
            if (o.PacketLength is { } length)
            {
                request.PacketLength = length;
            }

            // Without a vni in the rule AWS picks an account-wide unique VNI per session: the
            // receiving pipeline then tells the sessions apart by VNI.
            if (o.Vni is { } vni)
            {
                request.VirtualNetworkId = vni;
            }

            try
            {
                // EC2 may answer a repeated token with the session it created for it, also when that
                // session was deleted since: then the next generation of the token is used.
                for (var generation = 0; ; generation++)
                {
                    request.ClientToken = ClientToken(spec, eni, number, generation);
                    var created = await Call(() => _ec2.CreateTrafficMirrorSessionAsync(request, cancellationToken)).ConfigureAwait(false);
                    var id = created.TrafficMirrorSession?.TrafficMirrorSessionId;
                    if (id is not null && (await Sessions([new Filter { Name = "traffic-mirror-session-id", Values = [id] }], cancellationToken).ConfigureAwait(false)).Count > 0)
                    {
                        changes.Add($"created {id} for {eni}");
                        break;
                    }

                    if (generation == MaxTokenGenerations - 1)
                    {
                        throw new InvalidOperationException($"EC2 answered the create for {eni} with a session that does not exist ({id}) {MaxTokenGenerations} times");
                    }
                }
            }
            catch (AmazonEC2Exception ex) when (ex.ErrorCode == LimitExceeded)
            {
                limited.Add($"{eni}: {ex.Message} ({ex.ErrorCode})");
            }
        }

        var drift = changes.Count == 0 ? null : string.Join("; ", changes);
        var mirrored = enis.Count - limited.Count;
        var held = await Held(spec, enis, changes.Count == 0 ? ours : null, cancellationToken).ConfigureAwait(false);
        return limited.Count > 0
            ? new MirrorBackendOutcome(MirrorHealth.Degraded, string.Create(CultureInfo.InvariantCulture, $"{mirrored} of {enis.Count} ENIs mirrored; ") + string.Join("; ", limited), drift, null) { BackendSessions = held }
            : new MirrorBackendOutcome(MirrorHealth.Healthy, string.Create(CultureInfo.InvariantCulture, $"{enis.Count} ENIs mirrored"), drift, null) { BackendSessions = held };
    }

    /// <summary>
    /// The rule's sessions as they now are (re-read when this cycle changed any), each with its
    /// source ENI's instance and Name tag and what the target points at (DescribeTrafficMirrorTargets).
    /// </summary>
    private async Task<ImmutableArray<MirrorBackendSession>> Held(MirrorSessionSpec spec, Dictionary<string, NetworkInterface> enis, List<TrafficMirrorSession>? unchanged, CancellationToken cancellationToken)
    {
        var sessions = unchanged ?? await Sessions([new Filter { Name = "tag:" + SessionTag, Values = [spec.Name] }, new Filter { Name = "tag:" + SiteTag, Values = [_site] }], cancellationToken).ConfigureAwait(false);
        if (sessions.Count == 0)
        {
            return [];
        }

        string? target;
        try
        {
            var answer = await Call(() => _ec2.DescribeTrafficMirrorTargetsAsync(new DescribeTrafficMirrorTargetsRequest { TrafficMirrorTargetIds = [spec.Output] }, cancellationToken)).ConfigureAwait(false);
            target = answer.TrafficMirrorTargets?.FirstOrDefault() is { } t ? DescribeTarget(t) : "not found";
        }
        catch (AmazonEC2Exception ex)
        {
            target = "not described: " + ex.ErrorCode;
        }

        return [.. sessions.OrderBy(s => s.NetworkInterfaceId, StringComparer.Ordinal).Select(s =>
        {
            var eni = enis.GetValueOrDefault(s.NetworkInterfaceId);
            return new MirrorBackendSession(spec.Name, s.TrafficMirrorSessionId, s.NetworkInterfaceId, eni?.Attachment?.InstanceId,
                eni?.TagSet?.FirstOrDefault(t => t.Key == "Name")?.Value, s.SessionNumber, s.VirtualNetworkId, s.TrafficMirrorTargetId, target);
        })];
    }

    private static string DescribeTarget(TrafficMirrorTarget t)
    {
        var to = t.NetworkInterfaceId is { Length: > 0 } eni ? "ENI " + eni
            : t.NetworkLoadBalancerArn is { Length: > 0 } nlb ? "NLB " + nlb
            : t.GatewayLoadBalancerEndpointId is { Length: > 0 } gwlb ? "GWLB endpoint " + gwlb
            : "?";
        return t.Description is { Length: > 0 } d ? $"{to} ({d})" : to;
    }

    public async Task<IReadOnlyList<string>> RemoveOrphansAsync(IReadOnlySet<string> assigned, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(assigned);
        var ours = await Sessions([new Filter { Name = "tag:" + SiteTag, Values = [_site] }, new Filter { Name = "tag-key", Values = [SessionTag] }], cancellationToken).ConfigureAwait(false);
        var removed = new List<string>();
        foreach (var session in ours)
        {
            var owner = session.Tags?.FirstOrDefault(t => t.Key == SessionTag)?.Value;
            if (owner is null || assigned.Contains(owner))
            {
                continue;
            }

            await Call(() => _ec2.DeleteTrafficMirrorSessionAsync(new DeleteTrafficMirrorSessionRequest { TrafficMirrorSessionId = session.TrafficMirrorSessionId }, cancellationToken)).ConfigureAwait(false);
            removed.Add($"{session.TrafficMirrorSessionId} of {session.NetworkInterfaceId} (rule {owner})");
        }

        return removed;
    }

    public void Dispose() => _ec2.Dispose();

    /// <summary>
    /// The idempotency token of the create of <paramref name="spec"/>'s session on
    /// <paramref name="eni"/> (64 hex chars); <paramref name="generation"/> counts sessions made
    /// with the earlier tokens that were deleted since.
    /// </summary>
    public string ClientToken(MirrorSessionSpec spec, string eni, int number, int generation = 0)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var o = spec.Opts;
        var text = string.Create(CultureInfo.InvariantCulture, $"{_site}/{spec.Name}/{eni}/{spec.Output}/{o.FilterId}/{o.Vni}/{o.PacketLength}/{number}/{generation}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    private static bool Matches(TrafficMirrorSession session, MirrorSessionSpec spec, int number) =>
        session.TrafficMirrorTargetId == spec.Output
        && session.TrafficMirrorFilterId == spec.Opts.FilterId
        && (spec.Opts.Vni is null || session.VirtualNetworkId == spec.Opts.Vni)
        && session.SessionNumber == number
        && (spec.Opts.PacketLength is null || session.PacketLength == spec.Opts.PacketLength);

    private async Task<Dictionary<string, NetworkInterface>> MatchingEnis(MirrorSessionSpec spec, CancellationToken cancellationToken)
    {
        var filters = new List<Filter>();
        foreach (var selector in spec.Sources)
        {
            if (selector.StartsWith("tag:", StringComparison.Ordinal))
            {
                var eq = selector.IndexOf('=', StringComparison.Ordinal);
                filters.Add(new Filter { Name = "tag:" + selector[4..eq], Values = [selector[(eq + 1)..]] });
            }
            else if (selector.StartsWith("vpc:", StringComparison.Ordinal))
            {
                filters.Add(new Filter { Name = "vpc-id", Values = [selector[4..]] });
            }
        }

        var subnets = spec.Sources.Where(s => s.StartsWith("subnet:", StringComparison.Ordinal)).Select(s => s[7..]).ToList();
        if (subnets.Count > 0)
        {
            filters.Add(new Filter { Name = "subnet-id", Values = subnets });
        }

        var result = new Dictionary<string, NetworkInterface>(StringComparer.Ordinal);
        string? next = null;
        do
        {
            var request = new DescribeNetworkInterfacesRequest { Filters = filters, NextToken = next };
            var page = await Call(() => _ec2.DescribeNetworkInterfacesAsync(request, cancellationToken)).ConfigureAwait(false);
            foreach (var eni in page.NetworkInterfaces ?? [])
            {
                result[eni.NetworkInterfaceId] = eni;
            }

            next = page.NextToken;
        }
        while (!string.IsNullOrEmpty(next));
        return result;
    }

    private async Task<List<TrafficMirrorSession>> Sessions(List<Filter> filters, CancellationToken cancellationToken)
    {
        var result = new List<TrafficMirrorSession>();
        string? next = null;
        do
        {
            var request = new DescribeTrafficMirrorSessionsRequest { Filters = filters, NextToken = next };
            var page = await Call(() => _ec2.DescribeTrafficMirrorSessionsAsync(request, cancellationToken)).ConfigureAwait(false);
            result.AddRange(page.TrafficMirrorSessions ?? []);
            next = page.NextToken;
        }
        while (!string.IsNullOrEmpty(next));
        return result;
    }

    /// <summary>
    /// One EC2 call; <c>RequestLimitExceeded</c>/<c>Throttling</c> is retried after
    /// first-backoff × 2^attempt × [0.5, 1) (jitter); still throttled after the last attempt, or a
    /// network failure, is <see cref="MirrorBackendUnreachableException"/>.
    /// </summary>
    private async Task<T> Call<T>(Func<Task<T>> call)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (AmazonEC2Exception ex) when (ex.ErrorCode is "RequestLimitExceeded" or "Throttling")
            {
                if (attempt + 1 >= _attempts)
                {
                    throw new MirrorBackendUnreachableException($"EC2 still throttling after {_attempts} attempts ({ex.ErrorCode})", ex);
                }

                var delay = Backoff.Delay(_firstBackoff, attempt, TimeSpan.MaxValue) * (0.5 + (Random.Shared.NextDouble() / 2));
                await Task.Delay(delay).ConfigureAwait(false);
            }
            catch (AmazonServiceException ex) when (ex.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw new InvalidOperationException($"EC2 refused the credentials: {ex.ErrorCode} {ex.Message}", ex);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or AmazonClientException && ex is not AmazonServiceException)
            {
                throw new MirrorBackendUnreachableException("EC2: " + ex.Message, ex);
            }
        }
    }
}
