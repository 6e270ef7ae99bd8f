using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Fabric.Actors.Mirrors;

/// <summary>How a site applies mirrors.</summary>
public enum MirrorBackendKind
{
    /// <summary>Open vSwitch, through OVSDB (Mirror rows on a bridge).</summary>
    Ovs,

    /// <summary>Linux tc: clsact qdisc + <c>u32 match u32 0 0 action mirred egress mirror dev X</c>.</summary>
    Tc,

    /// <summary>Proxmox VE cluster: VM NICs resolved through the PVE API, mirrored on the OVS of the node the VM runs on.</summary>
    Proxmox,

    /// <summary>AWS VPC Traffic Mirroring: a rule mirroring every ENI that matches tag/VPC/subnet selectors.</summary>
    Aws,

    /// <summary>Cisco IOS-XE over RESTCONF: <c>monitor session N type erspan-source</c>.</summary>
    Iosxe,
}

/// <summary>
/// The session options, as journaled and sent between nodes: one flat record whose fields each
/// backend reads (<see cref="IMirrorBackendPlugin.SessionKeys"/> names its fields, its
/// <see cref="IMirrorBackendPlugin.Check"/> refuses the others). Null fields are unset.
/// This shape is kept on purpose rather than split into a record per backend: every
/// <see cref="MirrorSessionSpec"/> in an existing journal (MirrorJournal events and snapshots,
/// through Hyperion, which binds by type and field name) holds this type with these fields, and
/// supervisors of two versions exchange it during a rolling upgrade. A per-backend record would
/// need an event adapter for every old event and a wire version; mapping at the edge costs one
/// record. A new backend adds its nullable fields here (additive: Hyperion reads old events
/// without them) and names them in its SessionKeys.
/// Fields by backend: iosxe: <see cref="SessionNumber"/>
/// (<c>monitor session N</c>), <see cref="ErspanId"/>, <see cref="OriginIp"/>, <see cref="Mtu"/>;
/// aws: <see cref="FilterId"/> (tmf-…), <see cref="Vni"/> (null: AWS picks a unique VNI per
/// session), <see cref="PacketLength"/>, <see cref="SessionNumber"/> (the AWS session number,
/// lowest wins), <see cref="Pipeline"/> (the pipeline on the sensor that receives the VXLAN traffic).
/// </summary>
public sealed record MirrorBackendOptions(
    int? SessionNumber = null,
    int? ErspanId = null,
    string? OriginIp = null,
    int? Mtu = null,
    string? FilterId = null,
    int? Vni = null,
    int? PacketLength = null,
    string? Pipeline = null) : IFabricMessage
{
    public static MirrorBackendOptions None { get; } = new();

    /// <summary><c>session-number=1 erspan-id=100 …</c>: the options that are set, as in HOCON.</summary>
    public string Describe() => string.Join(' ', new (string Key, object? Value)[]
    {
        ("session-number", SessionNumber), ("erspan-id", ErspanId), ("origin-ip", OriginIp), ("mtu", Mtu),
        ("filter-id", FilterId), ("vni", Vni), ("packet-length", PacketLength), ("pipeline", Pipeline),
    }.Where(o => o.Value is not null).Select(o => string.Create(CultureInfo.InvariantCulture, $"{o.Key}={o.Value}")));
}

/// <summary>Which traffic of the sources is mirrored, seen from the source port.</summary>
public enum MirrorDirection
{
    /// <summary>Both ways.</summary>
    Both,

    /// <summary>Frames the source sends (entering the switch on that port: OVS select_src_port, tc ingress).</summary>
    Ingress,

    /// <summary>Frames sent to the source (leaving the switch on that port: OVS select_dst_port, tc egress).</summary>
    Egress,
}

/// <summary>What kind of thing a <see cref="MirrorEndpoint"/> names.</summary>
public enum MirrorEndpointKind
{
    /// <summary><c>vm:101/net1</c>: a Proxmox VM NIC (port <c>tap101i1</c>, or <c>fwln101o1</c> with the VM firewall on).</summary>
    Vm,

    /// <summary>A switch port or network device by name (<c>eth3</c>, <c>port:eth3</c>).</summary>
    Port,

    /// <summary><c>vlan:100</c>: traffic of a VLAN (sources), or the output VLAN.</summary>
    Vlan,
}

/// <summary>
/// A source or output of a mirror by stable identity: what survives a VM restart (the VM id and
/// NIC index), not the port's UUID or the device's ifindex.
/// </summary>
public sealed partial record MirrorEndpoint(MirrorEndpointKind Kind, int VmId, int NetIndex, string PortName, int Vlan)
{
    [GeneratedRegex("^vm:(?<vm>[0-9]{1,9})/net(?<net>[0-9]{1,3})$", RegexOptions.CultureInvariant)]
    private static partial Regex VmSyntax();

    [GeneratedRegex("^[A-Za-z0-9_.:@-]{1,15}$", RegexOptions.CultureInvariant)]
    private static partial Regex PortSyntax();

    /// <summary>
    /// Parses <c>vm:101/net1</c>, <c>vlan:100</c>, <c>port:NAME</c> or a plain port/device name
    /// (at most 15 characters, as Linux interface names).
    /// </summary>
    public static bool TryParse(string? text, out MirrorEndpoint? endpoint, out string error)
    {
        endpoint = null;
        error = "";
        text = text?.Trim() ?? "";
        if (text.Length == 0)
        {
            error = "expected \"vm:<vmid>/net<n>\", \"vlan:<id>\" or a port name, got an empty value";
            return false;
        }

        if (text.StartsWith("vm:", StringComparison.Ordinal))
        {
            var m = VmSyntax().Match(text);
            if (!m.Success)
            {
                error = $"expected \"vm:<vmid>/net<n>\" (e.g. vm:101/net1), got \"{text}\"";
                return false;
            }

            endpoint = new MirrorEndpoint(MirrorEndpointKind.Vm, int.Parse(m.Groups["vm"].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups["net"].Value, CultureInfo.InvariantCulture), "", 0);
            return true;
        }

        if (text.StartsWith("vlan:", StringComparison.Ordinal))
        {
            if (!int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var vlan) || vlan is < 0 or > 4095)
            {
                error = $"expected \"vlan:<0-4095>\", got \"{text}\"";
                return false;
            }

            endpoint = new MirrorEndpoint(MirrorEndpointKind.Vlan, 0, 0, "", vlan);
            return true;
        }

        var name = text.StartsWith("port:", StringComparison.Ordinal) ? text[5..] : text;
        if (!PortSyntax().IsMatch(name))
        {
            error = $"expected \"vm:<vmid>/net<n>\", \"vlan:<id>\" or a port name of 1-15 characters [A-Za-z0-9_.:@-], got \"{text}\"";
            return false;
        }

        endpoint = new MirrorEndpoint(MirrorEndpointKind.Port, 0, 0, name, 0);
        return true;
    }

    public static MirrorEndpoint Parse(string text) =>
        TryParse(text, out var endpoint, out var error) ? endpoint! : throw new FormatException(error);

    /// <summary>
    /// The port or device names this endpoint may have, in order of preference: for a VM NIC the
    /// tap (<c>tap101i1</c>) and then the firewall link (<c>fwln101o1</c>); for a port, its name.
    /// </summary>
    public IReadOnlyList<string> CandidateNames() => Kind switch
    {
        MirrorEndpointKind.Vm => [string.Create(CultureInfo.InvariantCulture, $"tap{VmId}i{NetIndex}"), string.Create(CultureInfo.InvariantCulture, $"fwln{VmId}o{NetIndex}")],
        MirrorEndpointKind.Port => [PortName],
        _ => [],
    };

    public override string ToString() => Kind switch
    {
        MirrorEndpointKind.Vm => string.Create(CultureInfo.InvariantCulture, $"vm:{VmId}/net{NetIndex}"),
        MirrorEndpointKind.Vlan => string.Create(CultureInfo.InvariantCulture, $"vlan:{Vlan}"),
        _ => PortName,
    };
}

/// <summary>
/// A desired mirror session. Immutable; a change is a new spec with the same <see cref="Name"/>.
/// </summary>
/// <param name="Name">Unique name (also the OVS Mirror name and its <c>external_ids:fabric-session</c>).</param>
/// <param name="Site">The site (<c>fabric.sites[].name</c>) whose agent applies it.</param>
/// <param name="Backend">The site's backend.</param>
/// <param name="Bridge">OVS bridge (<c>vmbr1</c>); unused by tc.</param>
/// <param name="Sources">What is mirrored, as written (<c>vm:101/net1</c>, a port, <c>vlan:100</c>).</param>
/// <param name="Direction">Which traffic of the sources.</param>
/// <param name="Output">Where mirrored frames go (<c>vm:103/net1</c>, a port, or for OVS <c>vlan:N</c>).</param>
/// <param name="SnapLength">Bytes kept of each mirrored frame (OVS Mirror.snaplen, 14-65535); null keeps whole frames.</param>
/// <param name="Enabled">A disabled session is kept but not applied (its rows/filters are removed).</param>
public sealed record MirrorSessionSpec(
    string Name,
    string Site,
    MirrorBackendKind Backend,
    string Bridge,
    ImmutableArray<string> Sources,
    MirrorDirection Direction,
    string Output,
    int? SnapLength,
    bool Enabled,
    MirrorBackendOptions? Options = null) : IFabricMessage
{
    /// <summary>Backend options, never null (<see cref="MirrorBackendOptions.None"/> when unset).</summary>
    public MirrorBackendOptions Opts => Options ?? MirrorBackendOptions.None;

    /// <summary>Value equality, including the sources in order (ImmutableArray alone compares by reference).</summary>
    public bool Equals(MirrorSessionSpec? other) =>
        other is not null
        && Name == other.Name && Site == other.Site && Backend == other.Backend && Bridge == other.Bridge
        && Sources.AsSpan().SequenceEqual(other.Sources.AsSpan())
        && Direction == other.Direction && Output == other.Output && SnapLength == other.SnapLength && Enabled == other.Enabled
        && Opts == other.Opts;

    public override int GetHashCode() => HashCode.Combine(Name, Site, Backend, Bridge, Sources.Length, Direction, Output, HashCode.Combine(SnapLength, Enabled));

    private static readonly Regex NameSyntax = new("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", RegexOptions.CultureInvariant | RegexOptions.Compiled);

    /// <summary>Parsed sources (valid specs only).</summary>
    public IReadOnlyList<MirrorEndpoint> ParsedSources() => [.. Sources.Select(MirrorEndpoint.Parse)];

    /// <summary>Parsed output (valid specs only).</summary>
    public MirrorEndpoint ParsedOutput() => MirrorEndpoint.Parse(Output);

    /// <summary>
    /// Checks the spec on its own (not against sites) with the backends of <paramref name="backends"/>.
    /// Returns null when valid, otherwise (<c>key</c>, problem) naming the offending field as in
    /// HOCON (<c>sources[1]</c>).
    /// </summary>
    public (string Key, string Problem)? Check(MirrorBackendSet backends)
    {
        ArgumentNullException.ThrowIfNull(backends);
        if (!NameSyntax.IsMatch(Name ?? ""))
        {
            return ("name", $"expected 1-64 characters [A-Za-z0-9_.-] starting with a letter or digit, got \"{Name}\"");
        }

        if (string.IsNullOrWhiteSpace(Site))
        {
            return ("site", "missing (required)");
        }

        if (backends.Find(Backend) is not { } backend)
        {
            return ("backend", $"no mirror backend \"{Backend}\"");
        }

        if (backend.NeedsBridge && string.IsNullOrWhiteSpace(Bridge))
        {
            return ("bridge", $"missing (required for backend {backend.Name})");
        }

        if (Sources.IsDefaultOrEmpty)
        {
            return ("sources", "expected at least one source");
        }

        return backend.Check(this);
    }
}

/// <summary>
/// The session checks of the backends whose sources and output are switch ports or devices
/// (<see cref="MirrorEndpoint"/>: ovs, tc, proxmox). A backend that cannot do VLAN sources, an
/// output VLAN or a snap length passes the problem to report instead (null: supported).
/// </summary>
public static class PortSessionChecks
{
    public static (string Key, string Problem)? Check(MirrorSessionSpec spec, string? vlanSourceProblem = null, string? vlanOutputProblem = null, string? snapLengthProblem = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        for (var i = 0; i < spec.Sources.Length; i++)
        {
            if (!MirrorEndpoint.TryParse(spec.Sources[i], out var source, out var error))
            {
                return ($"sources[{i}]", error);
            }

            if (vlanSourceProblem is not null && source!.Kind == MirrorEndpointKind.Vlan)
            {
                return ($"sources[{i}]", vlanSourceProblem);
            }
        }

        if (!MirrorEndpoint.TryParse(spec.Output, out var output, out var outputError))
        {
            return ("output", outputError);
        }

        if (vlanOutputProblem is not null && output!.Kind == MirrorEndpointKind.Vlan)
        {
            return ("output", vlanOutputProblem);
        }

        if (output!.Kind == MirrorEndpointKind.Vlan && output.Vlan < 1)
        {
            return ("output", "an output VLAN must be 1-4095");
        }

        if (spec.SnapLength is { } snap && (snap < 14 || snap > 65535))
        {
            return ("snaplen", $"expected 14-65535 bytes, got {snap}");
        }

        if (spec.SnapLength is not null && snapLengthProblem is not null)
        {
            return ("snaplen", snapLengthProblem);
        }

        if (spec.Opts.Pipeline is not null)
        {
            return ("pipeline", "pipeline is for backend aws (the pipeline receiving an AWS rule's VXLAN traffic)");
        }

        return null;
    }
}

/// <summary>A session's health as last observed.</summary>
public enum MirrorHealth
{
    /// <summary>Applied as desired, every source and the output present.</summary>
    Healthy,

    /// <summary>A repair is being applied.</summary>
    Repairing,

    /// <summary>Applied partly or not at all for a reason outside Fabric (a VM is down, the 32-mirror limit, ...): see the reason.</summary>
    Degraded,

    /// <summary>The backend refused the last change: see the last error.</summary>
    Failed,

    /// <summary>The site is unreachable (no agent, or the agent has no connection to its backend).</summary>
    Unknown,

    /// <summary>Declared but disabled: nothing applied.</summary>
    Disabled,
}

/// <summary>One session's status as its site's agent sees it.</summary>
public sealed record MirrorSessionStatus(
    string Name,
    MirrorHealth Health,
    string? Reason,
    DateTimeOffset Since,
    long RepairCount,
    DateTimeOffset? LastRepairAt) : IFabricMessage
{
    /// <summary><c>healthy</c>, <c>degraded (reason)</c>, <c>failed (error)</c>...</summary>
    public string Describe() => Reason is null ? Health.ToString().ToLowerInvariant() : $"{Health.ToString().ToLowerInvariant()} ({Reason})";
}

/// <summary>
/// One repair (or first application) of a session: when the drift was seen, what was missing,
/// how long until the backend confirmed, and the error if it failed.
/// </summary>
/// <param name="Trigger"><c>event</c> (an OVSDB update / link event), <c>audit</c>, <c>resync</c> (after reconnecting), <c>manual</c>, <c>assigned</c>.</param>
public sealed record MirrorRepair(
    string Session,
    string Site,
    DateTimeOffset DetectedAt,
    string Trigger,
    string Missing,
    TimeSpan Duration,
    string? Error) : IFabricMessage
{
    /// <summary>
    /// This repair's identity, drawn where the repair happened (a copy made with <c>with</c> keeps
    /// it). The supervisor journals each id once, however often an agent repeats the repair in its
    /// reports. Timestamps are no identity: two repairs of one session can carry the same
    /// <see cref="DetectedAt"/> (clock granularity, a retry of the same detection).
    /// </summary>
    public Guid Id { get; init; } = Guid.NewGuid();
}

/// <summary>
/// One session a polled backend holds for a Fabric session (aws: one Traffic Mirror session of a
/// rule, per source ENI), as the agent last read it: the backend's id for it, the source
/// (<c>eni-…</c>) with its instance and Name tag when known, the session number, the VNI the
/// sensor receives, and the target with what it points at.
/// </summary>
/// <param name="Rule">The Fabric session (aws rule) it belongs to.</param>
public sealed record MirrorBackendSession(
    string Rule,
    string Id,
    string Source,
    string? InstanceId,
    string? SourceName,
    int? Number,
    int? Vni,
    string Target,
    string? TargetDetail) : IFabricMessage;
