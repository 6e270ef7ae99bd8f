using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Mirrors.Backends;

namespace Fabric.Actors.Mirrors.Proxmox;

/// <summary>
/// The agent of a <c>proxmox</c> site: a cluster of PVE nodes, each with its own Open vSwitch.
/// Every audit interval (and on assignment or <c>fabric mirrors repair</c>) it asks the PVE API
/// where each session's VMs run and what their NICs are (bridge, VLAN tag, firewall), places the
/// session on that node, and hands the node's OVS agent (a child agent of backend <c>ovs</c> per
/// <c>nodes</c> entry, repairing on OVSDB events as on an <c>ovs</c> site) the session with
/// concrete port names: <c>tap&lt;vmid&gt;i&lt;n&gt;</c>, or <c>fwln&lt;vmid&gt;o&lt;n&gt;</c> when the
/// NIC has <c>firewall=1</c>. When a VM migrates, the session leaves the old node's agent (its
/// mirror row is removed there) and goes to the new node's; the move is a repair in the history
/// (trigger <c>migration</c>) once the new node reports the mirror healthy. Statuses and repairs
/// of the node that holds a session are passed on to the supervisor.
/// </summary>
public sealed class ProxmoxMirrorAgent : MirrorAgent
{
    private readonly Func<ProxmoxClient> _factory;
    private readonly Dictionary<string, IActorRef> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, string> _nodeOf = [];
    private readonly Dictionary<string, ImmutableArray<MirrorSessionSpec>> _given = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _placement = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string From, string To, string What, DateTimeOffset At, long Timestamp)> _moves = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private ProxmoxClient? _client;
    private long _version;
    private bool _busy;
    private string? _pending;

    public ProxmoxMirrorAgent(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics, Func<ProxmoxClient> factory)
        : base(site, settings, reportTo, metrics)
    {
        _factory = factory;
        Receive<Resolved>(HandleResolved);
        Receive<SessionStatusChanged>(HandleNodeStatus);
        Receive<RepairRecorded>(HandleNodeRepair);
        Receive<AgentReport>(_ => { });
    }

    public static Props Props(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics, Func<ProxmoxClient> factory) =>
        Akka.Actor.Props.Create(() => new ProxmoxMirrorAgent(site, settings, reportTo, metrics, factory));

    /// <summary>The OVS port of NIC <paramref name="net"/> of VM <paramref name="vmid"/>.</summary>
    public static string PortName(int vmid, int net, bool firewall) =>
        firewall ? string.Create(CultureInfo.InvariantCulture, $"fwln{vmid}o{net}") : string.Create(CultureInfo.InvariantCulture, $"tap{vmid}i{net}");

    protected override void OnStart()
    {
        // Each node's Open vSwitch is an ovs site of its own, with the agent the registry has for it.
        var ovs = Settings.Backends.Of(MirrorBackendKind.Ovs);
        foreach (var entry in Site.Own<ProxmoxSiteSettings>().Nodes)
        {
            var node = entry.Key;
            var nodeSite = new MirrorSiteSettings(Site.Name, MirrorBackendKind.Ovs, new OvsdbSiteSettings(entry.Value), Site.AuditInterval);
            var child = Context.ActorOf(ovs.AgentProps(nodeSite, Settings, Self, Metrics), "node-" + Uri.EscapeDataString(node));
            _nodes[node] = child;
            _nodeOf[child] = node;
        }
    }

    protected override void OnAudit() => Resolve("audit");

    protected override void PostStop()
    {
        _stopping.Cancel();
        _client?.Dispose();
        _stopping.Dispose();
    }

    protected override void OnAssigned(IReadOnlyList<string> dropped)
    {
        foreach (var session in dropped)
        {
            _placement.Remove(session);
            _moves.Remove(session);
        }

        Resolve("assigned");
    }

    protected override void OnRepairNow(RepairSessionNow request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var known = State.Sessions.ContainsKey(request.Session);
        if (known)
        {
            Resolve("manual");
            if (_placement.TryGetValue(request.Session, out var node))
            {
                _nodes[node].Forward(request);
                return;
            }
        }

        Sender.Tell(new RepairSessionResult(request.Session, known, null, State.StatusOf(request.Session)));
    }

    private void Resolve(string trigger)
    {
        if (!State.Assigned)
        {
            return;
        }

        if (_busy)
        {
            _pending ??= trigger;
            return;
        }

        try
        {
            _client ??= _factory();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or System.Security.Cryptography.CryptographicException)
        {
            Unreachable(ex.Message);
            return;
        }

        _busy = true;
        ResolveAsync(_client, Site, [.. State.Sessions.Values], trigger, _stopping.Token).PipeTo(Self);
    }

    private static async Task<Resolved> ResolveAsync(ProxmoxClient client, MirrorSiteSettings site, ImmutableArray<MirrorSessionSpec> sessions, string trigger, CancellationToken token)
    {
        try
        {
            var vms = await client.VmsAsync(token).ConfigureAwait(false);
            var configs = new Dictionary<(string, int), System.Text.Json.Nodes.JsonObject>();
            var result = new Dictionary<string, Placement>(StringComparer.Ordinal);
            foreach (var spec in sessions)
            {
                result[spec.Name] = await Place(client, site, spec, vms, configs, token).ConfigureAwait(false);
            }

            return new Resolved(trigger, result, null);
        }
        catch (MirrorBackendUnreachableException ex)
        {
            return new Resolved(trigger, null, ex.Message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return new Resolved(trigger, null, "PVE API: " + ex.Message);
        }
    }

    private static async Task<Placement> Place(
        ProxmoxClient client,
        MirrorSiteSettings site,
        MirrorSessionSpec spec,
        Dictionary<int, (string Node, string Status)> vms,
        Dictionary<(string, int), System.Text.Json.Nodes.JsonObject> configs,
        CancellationToken token)
    {
        var sources = spec.ParsedSources();
        var output = spec.ParsedOutput();
        foreach (var vm in sources.Append(output).Where(e => e.Kind == MirrorEndpointKind.Vm))
        {
            if (!vms.ContainsKey(vm.VmId))
            {
                return Placement.Problem(string.Create(CultureInfo.InvariantCulture, $"VM {vm.VmId} ({vm}) is not in the Proxmox cluster"));
            }
        }

        var nodes = sources.Where(e => e.Kind == MirrorEndpointKind.Vm).Select(e => vms[e.VmId].Node).Distinct(StringComparer.Ordinal).ToList();
        if (nodes.Count == 0)
        {
            return Placement.Problem("no vm:<vmid>/net<n> source to place the session on a node (plain ports: use an ovs site)");
        }

        if (nodes.Count > 1)
        {
            return Placement.Problem($"the source VMs run on several nodes ({string.Join(", ", nodes)}); one mirror cannot span nodes");
        }

        var node = nodes[0];
        if (output.Kind == MirrorEndpointKind.Vm && vms[output.VmId].Node != node)
        {
            return Placement.Problem($"output {output} runs on {vms[output.VmId].Node}, the sources on {node}");
        }

        if (!site.Own<ProxmoxSiteSettings>().Nodes.ContainsKey(node))
        {
            return Placement.Problem($"node {node} has no OVSDB endpoint in this site's nodes");
        }

        var nics = new List<ProxmoxNic>();

        // The bridge: the session's, or (empty) the bridge of the first source VM's NIC.
        var sessionBridge = spec.Bridge;

        async Task<(string? Port, string? Problem)> Resolve(MirrorEndpoint e)
        {
            if (e.Kind != MirrorEndpointKind.Vm)
            {
                return (e.Kind == MirrorEndpointKind.Port ? e.PortName : e.ToString(), null);
            }

            if (!configs.TryGetValue((node, e.VmId), out var config))
            {
                config = await client.VmConfigAsync(node, e.VmId, token).ConfigureAwait(false);
                configs[(node, e.VmId)] = config;
            }

            var net = config[string.Create(CultureInfo.InvariantCulture, $"net{e.NetIndex}")]?.GetValue<string>();
            if (net is null)
            {
                return (null, string.Create(CultureInfo.InvariantCulture, $"VM {e.VmId} has no net{e.NetIndex}"));
            }

            var (bridge, vlan, firewall) = ProxmoxClient.ParseNet(net);
            nics.Add(new ProxmoxNic(e.VmId, e.NetIndex, node, vms[e.VmId].Status, bridge, vlan, firewall, PortName(e.VmId, e.NetIndex, firewall)));
            if (sessionBridge.Length == 0 && bridge is not null)
            {
                sessionBridge = bridge;
            }

            return bridge is not null && bridge != sessionBridge
                ? (null, $"{e} is on bridge {bridge}, the session's bridge is {sessionBridge}")
                : (PortName(e.VmId, e.NetIndex, firewall), null);
        }

        var ports = new List<string>();
        foreach (var source in sources)
        {
            var (port, problem) = await Resolve(source).ConfigureAwait(false);
            if (problem is not null)
            {
                return Placement.Problem(problem);
            }

            ports.Add(port!);
        }

        var (outputPort, outputProblem) = await Resolve(output).ConfigureAwait(false);
        if (outputProblem is not null)
        {
            return Placement.Problem(outputProblem);
        }

        var where = string.Join(", ", sources.Where(e => e.Kind == MirrorEndpointKind.Vm).Select(e => e.VmId).Distinct().Select(id => string.Create(CultureInfo.InvariantCulture, $"VM {id}")));
        if (sessionBridge.Length == 0)
        {
            return Placement.Problem("no bridge: set the session's bridge, or give the source VM NICs a bridge");
        }

        return new Placement(node, spec with { Backend = MirrorBackendKind.Ovs, Bridge = sessionBridge, Sources = [.. ports], Output = outputPort! }, null, where)
        {
            Nics = [.. nics],
        };
    }

    private void HandleResolved(Resolved done)
    {
        _busy = false;
        if (done.Placements is null)
        {
            Unreachable(done.Error ?? "PVE API unreachable");
        }
        else
        {
            if (!State.Connected)
            {
                Log.Info("Site {0}: PVE API reachable", Site.Name);
            }

            State.ConnectionProblem = null;
            Apply(done.Placements);
        }

        if (_pending is { } next)
        {
            _pending = null;
            Resolve(next);
        }
    }

    private void Apply(Dictionary<string, Placement> placements)
    {
        foreach (var (name, p) in placements)
        {
            if (!State.Sessions.ContainsKey(name))
            {
                continue;
            }

            if (p.Node is null)
            {
                _placement.Remove(name);
                _moves.Remove(name);
                State.SetStatus(name, State.Sessions[name].Enabled ? MirrorHealth.Degraded : MirrorHealth.Disabled, State.Sessions[name].Enabled ? p.Error : null);
                continue;
            }

            if (_placement.TryGetValue(name, out var old) && old != p.Node)
            {
                _moves[name] = (old, p.Node, p.What, DateTimeOffset.UtcNow, Stopwatch.GetTimestamp());
                Log.Info("Site {0}: {1} of session {2} moved from {3} to {4}; moving the mirror", Site.Name, p.What, name, old, p.Node);
            }

            if (!_placement.TryGetValue(name, out var before) || before != p.Node)
            {
                foreach (var nic in p.Nics)
                {
                    Log.Info("Site {0}: session {1}: {2}", Site.Name, name, nic);
                }
            }

            _placement[name] = p.Node;
        }

        foreach (var (node, child) in _nodes)
        {
            var specs = placements.Where(p => p.Value.Node == node && State.Sessions.ContainsKey(p.Key)).Select(p => p.Value.Derived!).OrderBy(s => s.Name, StringComparer.Ordinal).ToImmutableArray();
            if (_given.TryGetValue(node, out var given) && given.SequenceEqual(specs))
            {
                continue;
            }

            _given[node] = specs;
            child.Tell(new AssignSessions(Site.Name, ++_version, specs));
        }
    }

    private void HandleNodeStatus(SessionStatusChanged changed)
    {
        var name = changed.Status.Name;
        if (!_nodeOf.TryGetValue(Sender, out var node) || !_placement.TryGetValue(name, out var placed) || placed != node)
        {
            return;
        }

        var s = changed.Status;
        State.SetStatus(name, s.Health, s.Reason is null ? null : $"on {node}: {s.Reason}");
        if (s.Health == MirrorHealth.Healthy && _moves.Remove(name, out var move) && move.To == node)
        {
            State.RecordRepair(new MirrorRepair(
                name, Site.Name, move.At, "migration",
                $"{move.What} moved from {move.From} to {move.To}: mirror removed on {move.From}, created on {move.To}",
                Stopwatch.GetElapsedTime(move.Timestamp), null));
        }
    }

    private void HandleNodeRepair(RepairRecorded recorded)
    {
        var repair = recorded.Repair;
        if (_nodeOf.TryGetValue(Sender, out var node) && _placement.TryGetValue(repair.Session, out var placed) && placed == node)
        {
            State.RecordRepair(repair with { Missing = $"on {node}: {repair.Missing}" });
        }
    }

    private void Unreachable(string problem)
    {
        if (State.ConnectionProblem != problem)
        {
            // The mirrors stay where they are: the node agents keep them while the API is away.
            Log.Warning("Site {0}: {1}; mirrors stay where they are", Site.Name, problem);
        }

        State.ConnectionProblem = problem;
    }

    private sealed record Placement(string? Node, MirrorSessionSpec? Derived, string? Error, string What)
    {
        /// <summary>The VM NICs as resolved (for the log).</summary>
        public ImmutableArray<ProxmoxNic> Nics { get; init; } = [];

        public static Placement Problem(string error) => new(null, null, error, "");
    }

    private sealed record Resolved(string Trigger, Dictionary<string, Placement>? Placements, string? Error);
}
