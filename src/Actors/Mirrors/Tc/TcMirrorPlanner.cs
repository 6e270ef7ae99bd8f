namespace Fabric.Actors.Mirrors.Tc;

/// <summary>Outcome of reconciling one tc session.</summary>
/// <param name="Health">Healthy, Degraded or Disabled after the changes.</param>
/// <param name="Reason">Why degraded (missing devices).</param>
/// <param name="Drift">What was wrong before (null: nothing).</param>
/// <param name="Error">The tc error, if a change failed.</param>
/// <param name="Applied">Where the session's filters are now.</param>
internal sealed record TcReconcileResult(MirrorHealth Health, string? Reason, string? Drift, string? Error, IReadOnlyCollection<(string Device, string Hook)> Applied);

/// <summary>Observes the devices of one session with tc and makes them match (runs off the actor thread).</summary>
internal static class TcMirrorPlanner
{
    public static TcReconcileResult Reconcile(MirrorSessionSpec spec, IReadOnlySet<(string Device, string Hook)> previously)
    {
        var pref = TcCommands.PrefOf(spec.Name);
        var cookie = TcCommands.CookieOf(spec.Name);
        var missing = new List<string>();
        var drift = new List<string>();
        var wanted = new HashSet<(string Device, string Hook)>();

        var output = spec.ParsedOutput().CandidateNames().FirstOrDefault(TcCommands.DeviceExists);
        if (output is null)
        {
            missing.Add($"output {spec.Output} ({string.Join(" or ", spec.ParsedOutput().CandidateNames())} not present)");
        }

        var hooks = spec.Direction switch
        {
            MirrorDirection.Ingress => new[] { "ingress" },
            MirrorDirection.Egress => ["egress"],
            _ => ["ingress", "egress"],
        };

        foreach (var source in spec.ParsedSources())
        {
            var device = source.CandidateNames().FirstOrDefault(TcCommands.DeviceExists);
            if (device is null)
            {
                missing.Add($"source {source} ({string.Join(" or ", source.CandidateNames())} not present)");
                continue;
            }

            foreach (var hook in hooks)
            {
                wanted.Add((device, hook));
            }
        }

        var apply = spec.Enabled && output is not null;
        string? error = null;
        var applied = new HashSet<(string Device, string Hook)>();
        try
        {
            // Remove the session's filters where they should not be (disabled, output gone, source moved).
            foreach (var (device, hook) in previously.Where(p => !apply || !wanted.Contains(p)))
            {
                if (TcCommands.DeviceExists(device) && TcCommands.FabricFilters(device, hook).Any(f => f.Pref == pref && f.Cookie == cookie))
                {
                    TcCommands.DeleteFilter(device, hook, pref);
                    drift.Add($"filter on {device} {hook} no longer wanted");
                }
            }

            if (apply)
            {
                foreach (var (device, hook) in wanted.OrderBy(w => w.Device, StringComparer.Ordinal).ThenBy(w => w.Hook, StringComparer.Ordinal))
                {
                    var ours = TcCommands.FabricFilters(device, hook).Where(f => f.Pref == pref && f.Cookie == cookie).ToList();
                    if (ours.Count == 1 && ours[0].ToDevice == output)
                    {
                        applied.Add((device, hook));
                        continue;
                    }

                    drift.Add(ours.Count switch
                    {
                        0 => $"{device} {hook} mirror missing",
                        1 => $"{device} {hook} mirred target is {(ours[0].ToDevice == "*" ? "a deleted device" : ours[0].ToDevice)}, not {output}",
                        _ => $"{device} {hook} has {ours.Count} mirred filters of this session",
                    });
                    if (ours.Count > 0)
                    {
                        TcCommands.DeleteFilter(device, hook, pref);
                    }

                    TcCommands.EnsureClsact(device);
                    TcCommands.AddMirror(device, hook, pref, output!, cookie);
                    applied.Add((device, hook));
                }
            }
        }
        catch (TcCommandException ex)
        {
            error = ex.Message;
        }

        var health = !spec.Enabled ? MirrorHealth.Disabled : missing.Count > 0 ? MirrorHealth.Degraded : MirrorHealth.Healthy;
        return new TcReconcileResult(health, missing.Count > 0 ? string.Join("; ", missing) : null, drift.Count > 0 ? string.Join("; ", drift) : null, error, applied);
    }
}
