using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Fabric.Actors.Mirrors;

/// <summary>
/// Validation of the session fields of the <c>aws</c> and <c>iosxe</c> backends, whose sources and
/// output are not switch ports. iosxe: sources are router interfaces (<c>GigabitEthernet1</c>,
/// <c>TenGigabitEthernet1/0/1</c>), the output is the ERSPAN destination IPv4 address, options
/// session-number (1-1024), erspan-id (1-1023), origin-ip (IPv4), mtu (176-9000).
/// aws: sources are selectors (<c>tag:Key=Value</c>, <c>vpc:vpc-…</c>, <c>subnet:subnet-…</c>;
/// an ENI matches when it has every tag, is in the VPC and in one of the subnets), the output is a
/// traffic mirror target (<c>tmt-…</c>), options filter-id (<c>tmf-…</c>, required), vni
/// (0-16777215; absent: AWS picks a unique VNI per session), packet-length (1-8947),
/// session-number (1-32766, default 1), pipeline (the receiving pipeline's name).
/// </summary>
public static partial class BackendChecks
{
    [GeneratedRegex("^[A-Za-z][A-Za-z-]*[0-9][0-9/.:]*$", RegexOptions.CultureInvariant)]
    private static partial Regex InterfaceSyntax();

    [GeneratedRegex("^(tag:[^=]{1,128}=.{0,256}|vpc:vpc-[0-9a-f]{1,17}|subnet:subnet-[0-9a-f]{1,17})$", RegexOptions.CultureInvariant)]
    private static partial Regex AwsSelectorSyntax();

    [GeneratedRegex("^tmt-[0-9a-f]{1,17}$", RegexOptions.CultureInvariant)]
    private static partial Regex AwsTargetSyntax();

    [GeneratedRegex("^tmf-[0-9a-f]{1,17}$", RegexOptions.CultureInvariant)]
    private static partial Regex AwsFilterSyntax();

    /// <summary>Null when valid, otherwise (key, problem) as <see cref="MirrorSessionSpec.Check"/>.</summary>
    public static (string Key, string Problem)? Check(MirrorSessionSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var o = spec.Opts;
        if (spec.SnapLength is not null)
        {
            return ("snaplen", spec.Backend == MirrorBackendKind.Aws ? "use packet-length for backend aws" : "snaplen needs backend ovs (IOS-XE ERSPAN has mtu)");
        }

        if (spec.Backend == MirrorBackendKind.Iosxe)
        {
            for (var i = 0; i < spec.Sources.Length; i++)
            {
                if (!InterfaceSyntax().IsMatch(spec.Sources[i]) || spec.Sources[i].Length > 64)
                {
                    return ($"sources[{i}]", $"expected a router interface name (e.g. GigabitEthernet1), got \"{spec.Sources[i]}\"");
                }
            }

            if (!IsIpv4(spec.Output))
            {
                return ("output", $"expected the ERSPAN destination IPv4 address for backend iosxe, got \"{spec.Output}\"");
            }

            return o.SessionNumber is not (>= 1 and <= 1024) ? ("session-number", "expected 1-1024 (monitor session N), required for backend iosxe")
                : o.ErspanId is not (>= 1 and <= 1023) ? ("erspan-id", "expected 1-1023, required for backend iosxe")
                : !IsIpv4(o.OriginIp) ? ("origin-ip", $"expected an IPv4 address, required for backend iosxe, got \"{o.OriginIp}\"")
                : o.Mtu is { } mtu && mtu is < 176 or > 9000 ? ("mtu", $"expected 176-9000, got {mtu}")
                : o.FilterId is not null || o.Vni is not null || o.PacketLength is not null || o.Pipeline is not null ? ("filter-id", "filter-id, vni, packet-length and pipeline are for backend aws")
                : null;
        }

        for (var i = 0; i < spec.Sources.Length; i++)
        {
            if (!AwsSelectorSyntax().IsMatch(spec.Sources[i]))
            {
                return ($"sources[{i}]", $"expected \"tag:Key=Value\", \"vpc:vpc-…\" or \"subnet:subnet-…\", got \"{spec.Sources[i]}\"");
            }
        }

        if (spec.Sources.Count(s => s.StartsWith("vpc:", StringComparison.Ordinal)) > 1)
        {
            return ("sources", "at most one vpc: selector");
        }

        return !AwsTargetSyntax().IsMatch(spec.Output) ? ("output", $"expected a traffic mirror target id (tmt-…) for backend aws, got \"{spec.Output}\"")
            : o.FilterId is null || !AwsFilterSyntax().IsMatch(o.FilterId) ? ("filter-id", $"expected a traffic mirror filter id (tmf-…), required for backend aws, got \"{o.FilterId}\"")
            : o.Vni is { } vni && vni is < 0 or > 16_777_215 ? ("vni", $"expected 0-16777215 (or no vni: AWS picks one per session), got {vni}")
            : o.Pipeline is { } pipeline && !Pipelines.PipelineSettingsReader.IsValidName(pipeline) ? ("pipeline", $"expected a pipeline name (lower-case letters, digits and '-', at most 40), got \"{pipeline}\"")
            : o.PacketLength is { } len && len is < 1 or > 8947 ? ("packet-length", $"expected 1-8947, got {len}")
            : o.SessionNumber is { } n && n is < 1 or > 32766 ? ("session-number", $"expected 1-32766, got {n}")
            : o.ErspanId is not null || o.OriginIp is not null || o.Mtu is not null ? ("erspan-id", "erspan-id, origin-ip and mtu are for backend iosxe")
            : null;
    }

    private static bool IsIpv4(string? text) =>
        text is not null && IPAddress.TryParse(text, out var ip) && ip.AddressFamily == AddressFamily.InterNetwork && ip.ToString() == text;
}
