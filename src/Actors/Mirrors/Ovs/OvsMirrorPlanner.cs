using System.Text.Json.Nodes;
using Fabric.Protocols.Ovsdb;

namespace Fabric.Actors.Mirrors.Ovs;

/// <summary>What the planner found for one session, and the transaction that brings it to the desired state.</summary>
/// <param name="Session">The session.</param>
/// <param name="Health">Healthy / Degraded / Disabled as it will be once <paramref name="Operations"/> committed.</param>
/// <param name="Reason">Why it is degraded (missing VM NICs, bridge, 32-mirror limit).</param>
/// <param name="Drift">What differs from the desired state now (null: nothing), e.g. "source tap101i1 not selected".</param>
/// <param name="Operations">One atomic transaction (empty: nothing to do).</param>
/// <param name="InsertedName">The uuid-name of an inserted Mirror row, if any.</param>
internal sealed record OvsSessionPlan(
    MirrorSessionSpec Session,
    MirrorHealth Health,
    string? Reason,
    string? Drift,
    IReadOnlyList<JsonObject> Operations,
    string? InsertedName);

/// <summary>
/// Compares the replicated Bridge/Port/Interface/Mirror tables with the desired sessions and
/// plans, per session, one transaction: insert the Mirror and add it to Bridge.mirrors in the same
/// transaction (Bridge.mirrors is a strong reference, Mirror is not a root table), update a row
/// whose selection or output drifted (a re-added port has a new UUID and is dropped from the weak
/// references select_*_port/output_port), or take the row out of Bridge.mirrors (OVSDB then
/// deletes it). Only rows with <c>external_ids:fabric-session</c> are ever touched.
/// </summary>
internal static class OvsMirrorPlanner
{
    /// <summary>Most mirrors OVS applies per bridge (MAX_MIRRORS in ofproto-dpif-mirror.c); the 33rd row is accepted by the database and ignored.</summary>
    public const int MaxMirrorsPerBridge = 32;

    public const string SessionKey = "fabric-session";

    public static IReadOnlyList<OvsSessionPlan> Plan(OvsdbReplica replica, IEnumerable<MirrorSessionSpec> sessions)
    {
        var bridges = replica.Table("Bridge");
        var ports = replica.Table("Port");
        var mirrors = replica.Table("Mirror");
        var interfaces = replica.Table("Interface");

        // Mirror uuid -> bridge uuid holding it.
        var holder = new Dictionary<Guid, Guid>();
        foreach (var bridge in bridges.Values)
        {
            foreach (var m in bridge.GetUuids("mirrors"))
            {
                holder[m] = bridge.Uuid;
            }
        }

        var plans = new List<OvsSessionPlan>();
        foreach (var spec in sessions)
        {
            plans.Add(PlanOne(spec, bridges, ports, interfaces, mirrors, holder));
        }

        return plans;
    }

    private static OvsSessionPlan PlanOne(
        MirrorSessionSpec spec,
        IReadOnlyDictionary<Guid, OvsdbRow> bridges,
        IReadOnlyDictionary<Guid, OvsdbRow> ports,
        IReadOnlyDictionary<Guid, OvsdbRow> interfaces,
        IReadOnlyDictionary<Guid, OvsdbRow> mirrors,
        Dictionary<Guid, Guid> holder)
    {
        var ops = new List<JsonObject>();
        var owned = mirrors.Values
            .Where(m => m.GetStringMap("external_ids").TryGetValue(SessionKey, out var s) && s == spec.Name && holder.ContainsKey(m.Uuid))
            .OrderBy(m => m.Uuid)
            .ToList();
        var bridge = bridges.Values.FirstOrDefault(b => b.GetString("name") == spec.Bridge);

        // Rows of this session on another bridge (the session moved) go; so do duplicates.
        var keep = bridge is null ? null : owned.FirstOrDefault(m => holder[m.Uuid] == bridge.Uuid);
        var drift = new List<string>();
        foreach (var row in owned.Where(r => !ReferenceEquals(r, keep)))
        {
            ops.Add(RemoveFromBridge(holder[row.Uuid], row.Uuid));
            drift.Add(bridge is not null && holder[row.Uuid] == bridge.Uuid ? "duplicate mirror row" : "mirror row on another bridge");
        }

        if (!spec.Enabled)
        {
            if (keep is not null)
            {
                ops.Add(RemoveFromBridge(holder[keep.Uuid], keep.Uuid));
                drift.Add("disabled session still applied");
            }

            return new OvsSessionPlan(spec, MirrorHealth.Disabled, null, Join(drift), ops, null);
        }

        if (bridge is null)
        {
            return new OvsSessionPlan(spec, MirrorHealth.Degraded, $"bridge {spec.Bridge} not found", Join(drift), ops, null);
        }

        var portsByName = new Dictionary<string, OvsdbRow>(StringComparer.Ordinal);
        foreach (var uuid in bridge.GetUuids("ports"))
        {
            if (ports.TryGetValue(uuid, out var port))
            {
                portsByName[port.GetString("name")] = port;
            }
        }

        var missing = new List<string>();
        var selected = new List<(string Name, Guid Uuid)>();
        var vlans = new List<long>();
        foreach (var source in spec.ParsedSources())
        {
            if (source.Kind == MirrorEndpointKind.Vlan)
            {
                vlans.Add(source.Vlan);
                continue;
            }

            var found = Resolve(source, portsByName, interfaces, missing);
            if (found is { } f)
            {
                selected.Add(f);
            }
            else
            {
                missing.Add($"source {source} ({string.Join(" or ", source.CandidateNames())} not on {spec.Bridge})");
            }
        }

        var output = spec.ParsedOutput();
        (string Name, Guid Uuid)? outputPort = null;
        if (output.Kind != MirrorEndpointKind.Vlan)
        {
            outputPort = Resolve(output, portsByName, interfaces, missing);
            if (outputPort is null)
            {
                missing.Add($"output {output} ({string.Join(" or ", output.CandidateNames())} not on {spec.Bridge})");
            }
        }

        var hasSelection = selected.Count > 0 || vlans.Count > 0;
        var applicable = hasSelection && (output.Kind == MirrorEndpointKind.Vlan || outputPort is not null);
        var mirrorCount = bridge.GetUuids("mirrors").Count;
        string? reason = missing.Count > 0 ? string.Join("; ", missing) : null;

        if (applicable && keep is null && mirrorCount >= MaxMirrorsPerBridge)
        {
            reason = $"bridge {spec.Bridge} already has {mirrorCount} mirrors; OVS applies at most {MaxMirrorsPerBridge} per bridge" + (reason is null ? "" : "; " + reason);
            return new OvsSessionPlan(spec, MirrorHealth.Degraded, reason, Join(drift), ops, null);
        }

        if (applicable && keep is not null && mirrorCount > MaxMirrorsPerBridge)
        {
            reason = $"bridge {spec.Bridge} has {mirrorCount} mirrors; OVS applies at most {MaxMirrorsPerBridge} per bridge and may ignore this one" + (reason is null ? "" : "; " + reason);
        }

        if (!applicable)
        {
            if (keep is not null)
            {
                // Nothing meaningful to mirror (no output, or no source): a row would mirror nothing.
                ops.Add(RemoveFromBridge(bridge.Uuid, keep.Uuid));
                drift.Add("mirror row without " + (hasSelection ? "output" : "sources"));
            }

            return new OvsSessionPlan(spec, MirrorHealth.Degraded, reason ?? "nothing to mirror", Join(drift), ops, null);
        }

        var srcPorts = spec.Direction is MirrorDirection.Both or MirrorDirection.Ingress ? selected : [];
        var dstPorts = spec.Direction is MirrorDirection.Both or MirrorDirection.Egress ? selected : [];
        var desired = new JsonObject
        {
            ["name"] = spec.Name,
            ["select_all"] = selected.Count == 0 && vlans.Count > 0,
            ["select_src_port"] = OvsdbJson.Set(srcPorts.Select(p => (JsonNode)OvsdbJson.Uuid(p.Uuid))),
            ["select_dst_port"] = OvsdbJson.Set(dstPorts.Select(p => (JsonNode)OvsdbJson.Uuid(p.Uuid))),
            ["select_vlan"] = OvsdbJson.Set(vlans.Select(v => (JsonNode)JsonValue.Create(v))),
            ["output_port"] = OvsdbJson.Set(outputPort is { } o ? [OvsdbJson.Uuid(o.Uuid)] : []),
            ["output_vlan"] = OvsdbJson.Set(output.Kind == MirrorEndpointKind.Vlan ? [JsonValue.Create((long)output.Vlan)] : []),
            ["snaplen"] = OvsdbJson.Set(spec.SnapLength is { } s ? [JsonValue.Create((long)s)] : []),
            ["external_ids"] = OvsdbJson.Map([new(SessionKey, spec.Name)]),
        };

        var health = reason is null ? MirrorHealth.Healthy : MirrorHealth.Degraded;
        if (keep is null)
        {
            drift.Add("mirror row missing");
            const string name = "mirror";
            ops.Add(OvsdbJson.Insert("Mirror", desired, name));
            ops.Add(OvsdbJson.Mutate("Bridge", OvsdbJson.WhereUuid(bridge.Uuid), "mirrors", "insert", OvsdbJson.Set([OvsdbJson.NamedUuid(name)])));
            return new OvsSessionPlan(spec, health, reason, Join(drift), ops, name);
        }

        var portNames = ports.Values.ToDictionary(p => p.Uuid, p => p.GetString("name"));
        DescribeSetDrift(keep, "select_src_port", srcPorts, portNames, "source", "not selected (ingress)", drift);
        DescribeSetDrift(keep, "select_dst_port", dstPorts, portNames, "source", "not selected (egress)", drift);
        DescribeSetDrift(keep, "output_port", outputPort is { } op ? [op] : [], portNames, "output port", "not set", drift);
        if (keep.GetString("name") != spec.Name)
        {
            drift.Add("name altered");
        }

        if (keep.GetBoolean("select_all") != desired["select_all"]!.GetValue<bool>())
        {
            drift.Add("select_all altered");
        }

        if (!keep.GetIntegers("select_vlan").Order().SequenceEqual(vlans.Order()))
        {
            drift.Add("select_vlan altered");
        }

        if (!keep.GetIntegers("output_vlan").SequenceEqual(output.Kind == MirrorEndpointKind.Vlan ? [(long)output.Vlan] : []))
        {
            drift.Add("output_vlan altered");
        }

        if (!keep.GetIntegers("snaplen").SequenceEqual(spec.SnapLength is { } sl ? [(long)sl] : []))
        {
            drift.Add("snaplen altered");
        }

        var ids = keep.GetStringMap("external_ids");
        if (ids.Count != 1)
        {
            drift.Add("external_ids altered");
        }

        if (drift.Count > 0)
        {
            ops.Add(OvsdbJson.Update("Mirror", OvsdbJson.WhereUuid(keep.Uuid), desired));
        }

        return new OvsSessionPlan(spec, health, reason, Join(drift), ops, null);
    }

    /// <summary>
    /// Fabric's rows (<c>external_ids:fabric-session</c>) whose session is no longer desired: one
    /// transaction per row taking it out of its bridge. Rows without the key are never touched.
    /// </summary>
    public static IReadOnlyList<(string Session, JsonObject Operation)> PlanOrphans(OvsdbReplica replica, IReadOnlySet<string> desired)
    {
        var result = new List<(string, JsonObject)>();
        foreach (var bridge in replica.Table("Bridge").Values)
        {
            foreach (var uuid in bridge.GetUuids("mirrors"))
            {
                if (replica.Table("Mirror").TryGetValue(uuid, out var row)
                    && row.GetStringMap("external_ids").TryGetValue(SessionKey, out var session)
                    && !desired.Contains(session))
                {
                    result.Add((session, RemoveFromBridge(bridge.Uuid, uuid)));
                }
            }
        }

        return result;
    }

    private static (string Name, Guid Uuid)? Resolve(MirrorEndpoint endpoint, Dictionary<string, OvsdbRow> portsByName, IReadOnlyDictionary<Guid, OvsdbRow> interfaces, List<string> problems)
    {
        foreach (var candidate in endpoint.CandidateNames())
        {
            if (portsByName.TryGetValue(candidate, out var port))
            {
                // A port whose device is gone (VM stopped without del-port) stays selected, but say so.
                foreach (var iface in port.GetUuids("interfaces"))
                {
                    if (interfaces.TryGetValue(iface, out var row) && row["error"] is { Keys.Count: > 0 } error)
                    {
                        problems.Add($"{candidate}: {error.Keys[0]}");
                    }
                }

                return (candidate, port.Uuid);
            }
        }

        return null;
    }

    private static void DescribeSetDrift(OvsdbRow row, string column, IReadOnlyList<(string Name, Guid Uuid)> wanted, Dictionary<Guid, string> portNames, string what, string problem, List<string> drift)
    {
        var have = row.GetUuids(column).ToHashSet();
        foreach (var (name, uuid) in wanted)
        {
            if (!have.Contains(uuid))
            {
                drift.Add($"{what} {name} {problem}");
            }
        }

        foreach (var uuid in have)
        {
            if (!wanted.Any(w => w.Uuid == uuid))
            {
                drift.Add($"{column} has unwanted port {portNames.GetValueOrDefault(uuid, uuid.ToString())}");
            }
        }
    }

    private static JsonObject RemoveFromBridge(Guid bridge, Guid mirror) =>
        OvsdbJson.Mutate("Bridge", OvsdbJson.WhereUuid(bridge), "mirrors", "delete", OvsdbJson.Set([OvsdbJson.Uuid(mirror)]));

    private static string? Join(List<string> drift) => drift.Count == 0 ? null : string.Join("; ", drift);
}
