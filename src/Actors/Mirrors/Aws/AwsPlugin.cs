using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Akka.Actor;
using Fabric.Configuration;
using Fabric.Actors.Mirrors.Backends;

namespace Fabric.Actors.Mirrors.Aws;

/// <summary>
/// Backend <c>aws</c>: AWS VPC Traffic Mirroring. Site keys <c>region</c> and <c>service-url</c>
/// (an EC2 endpoint other than the region's). Sessions: sources are selectors
/// (<c>tag:Key=Value</c>, <c>vpc:vpc-…</c>, <c>subnet:subnet-…</c>; an ENI matches when it has
/// every tag, is in the VPC and in one of the subnets), the output is a traffic mirror target
/// (<c>tmt-…</c>), options filter-id (<c>tmf-…</c>, required), vni (0-16777215; absent: AWS picks a
/// unique VNI per session), packet-length (1-8947), session-number (1-32766, default 1), pipeline
/// (the receiving pipeline's name). The agent is a <see cref="PollingMirrorAgent"/> over
/// <see cref="AwsBackend"/> (credentials from the standard AWS chain).
/// </summary>
public sealed partial class AwsPlugin : IMirrorBackendPlugin
{
    public MirrorBackendKind Kind => MirrorBackendKind.Aws;

    public ImmutableArray<string> SiteKeys { get; } = ["region", "service-url"];

    public ImmutableArray<string> SessionKeys { get; } = ["filter-id", "vni", "packet-length", "session-number", "pipeline"];

    public bool HasPaths => true;

    [GeneratedRegex("^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$", RegexOptions.CultureInvariant)]
    private static partial Regex RegionSyntax();

    [GeneratedRegex("^(tag:[^=]{1,128}=.{0,256}|vpc:vpc-[0-9a-f]{1,17}|subnet:subnet-[0-9a-f]{1,17})$", RegexOptions.CultureInvariant)]
    private static partial Regex SelectorSyntax();

    [GeneratedRegex("^tmt-[0-9a-f]{1,17}$", RegexOptions.CultureInvariant)]
    private static partial Regex TargetSyntax();

    [GeneratedRegex("^tmf-[0-9a-f]{1,17}$", RegexOptions.CultureInvariant)]
    private static partial Regex FilterSyntax();

    public MirrorBackendSiteSettings? ReadSite(ConfigReader site)
    {
        ArgumentNullException.ThrowIfNull(site);
        var region = site.GetString("region", allowEmpty: false);
        if (!RegionSyntax().IsMatch(region))
        {
            throw site.Problem("region", $"expected an AWS region such as eu-west-1, got \"{region}\"");
        }

        Uri? serviceUrl = null;
        if (site.GetOptionalString("service-url") is { } text && (!Uri.TryCreate(text, UriKind.Absolute, out serviceUrl) || serviceUrl.Scheme is not ("https" or "http")))
        {
            throw site.Problem("service-url", $"expected an http(s):// URL, got \"{text}\"");
        }

        return new AwsSiteSettings(region, serviceUrl);
    }

    public ImmutableSortedDictionary<string, string> Describe(MirrorSiteSettings site)
    {
        ArgumentNullException.ThrowIfNull(site);
        var own = site.Own<AwsSiteSettings>();
        return ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new KeyValuePair<string, string>[]
        {
            new("region", own.Region),
            new("service-url", own.ServiceUrl?.ToString() ?? "(regional endpoint)"),
            new("credentials", "standard AWS chain (redacted)"),
        });
    }

    public (string Key, string Problem)? Check(MirrorSessionSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var o = spec.Opts;
        if (spec.SnapLength is not null)
        {
            return ("snaplen", "use packet-length for backend aws");
        }

        for (var i = 0; i < spec.Sources.Length; i++)
        {
            if (!SelectorSyntax().IsMatch(spec.Sources[i]))
            {
                return ($"sources[{i}]", $"expected \"tag:Key=Value\", \"vpc:vpc-…\" or \"subnet:subnet-…\", got \"{spec.Sources[i]}\"");
            }
        }

        if (spec.Sources.Count(s => s.StartsWith("vpc:", StringComparison.Ordinal)) > 1)
        {
            return ("sources", "at most one vpc: selector");
        }

        return !TargetSyntax().IsMatch(spec.Output) ? ("output", $"expected a traffic mirror target id (tmt-…) for backend aws, got \"{spec.Output}\"")
            : o.FilterId is null || !FilterSyntax().IsMatch(o.FilterId) ? ("filter-id", $"expected a traffic mirror filter id (tmf-…), required for backend aws, got \"{o.FilterId}\"")
            : o.Vni is { } vni && vni is < 0 or > 16_777_215 ? ("vni", $"expected 0-16777215 (or no vni: AWS picks one per session), got {vni}")
            : o.Pipeline is { } pipeline && !Pipelines.PipelineSettingsReader.IsValidName(pipeline) ? ("pipeline", $"expected a pipeline name (lower-case letters, digits and '-', at most 40), got \"{pipeline}\"")
            : o.PacketLength is { } len && len is < 1 or > 8947 ? ("packet-length", $"expected 1-8947, got {len}")
            : o.SessionNumber is { } n && n is < 1 or > 32766 ? ("session-number", $"expected 1-32766, got {n}")
            : o.ErspanId is not null || o.OriginIp is not null || o.Mtu is not null ? ("erspan-id", "erspan-id, origin-ip and mtu are for backend iosxe")
            : null;
    }

    public Props AgentProps(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics) =>
        PollingMirrorAgent.Props(site, settings, reportTo, metrics, () => Backend(site));

    /// <summary>The EC2 backend of an aws site (credentials from the standard AWS chain).</summary>
    public static IMirrorBackend Backend(MirrorSiteSettings site, TimeSpan? firstBackoff = null)
    {
        ArgumentNullException.ThrowIfNull(site);
        return new AwsBackend(AwsBackend.CreateClient(site, ApiSiteKeys.Timeout), site.Name, firstBackoff ?? TimeSpan.FromMilliseconds(200));
    }
}

/// <summary>The own part of an aws site: its region (<c>eu-west-1</c>) and an EC2 endpoint other than the region's (VPC endpoint, or a test double).</summary>
public sealed record AwsSiteSettings(string Region, Uri? ServiceUrl) : MirrorBackendSiteSettings;
