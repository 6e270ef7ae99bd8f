using System.Collections.Concurrent;
using Fabric.Actors.Metrics;

namespace Fabric.Actors.Mirrors;

/// <summary>
/// Repair counts and latencies and session health for <c>/metrics</c>. Agents record from their
/// actor thread; <c>/metrics</c> reads from the HTTP thread (per-session cells with atomic fields).
/// </summary>
public sealed class MirrorMetrics : IMetricsSource
{
    private static readonly double[] Buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private readonly ConcurrentDictionary<(string Site, string Session), Cell> _cells = new();

    /// <summary>Records one repair (or failed repair) of a session.</summary>
    public void RecordRepair(string site, string session, TimeSpan duration, bool ok)
    {
        var cell = _cells.GetOrAdd((site, session), _ => new Cell());
        lock (cell)
        {
            if (ok)
            {
                cell.Ok++;
            }
            else
            {
                cell.Errors++;
            }

            cell.SumSeconds += duration.TotalSeconds;
            cell.MaxSeconds = Math.Max(cell.MaxSeconds, duration.TotalSeconds);
            for (var i = 0; i < Buckets.Length; i++)
            {
                if (duration.TotalSeconds <= Buckets[i])
                {
                    cell.Buckets[i]++;
                }
            }
        }
    }

    /// <summary>Sets a session's current health.</summary>
    public void SetHealth(string site, string session, MirrorHealth health)
    {
        var cell = _cells.GetOrAdd((site, session), _ => new Cell());
        lock (cell)
        {
            cell.Health = health;
        }
    }

    /// <summary>Forgets a session that is no longer assigned.</summary>
    public void Remove(string site, string session) => _cells.TryRemove((site, session), out _);

    public void Write(PrometheusTextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Family("fabric_mirror_repairs_total", MetricType.Counter, "Mirror repairs (and first applications) by result.");
        writer.Family("fabric_mirror_repair_seconds", MetricType.Histogram, "Seconds from detecting a drift to the backend confirming the repair.");
        writer.Family("fabric_mirror_repair_seconds_max", MetricType.Gauge, "Longest repair so far, seconds.");
        writer.Family("fabric_mirror_session_health", MetricType.Gauge, "1 for the session's current health.");
        foreach (var ((site, session), cell) in _cells.OrderBy(c => c.Key.Site, StringComparer.Ordinal).ThenBy(c => c.Key.Session, StringComparer.Ordinal))
        {
            lock (cell)
            {
                writer.Sample("fabric_mirror_repairs_total", cell.Ok, ("site", site), ("session", session), ("result", "ok"));
                writer.Sample("fabric_mirror_repairs_total", cell.Errors, ("site", site), ("session", session), ("result", "error"));
                writer.Sample("fabric_mirror_repair_seconds_sum", cell.SumSeconds, ("site", site), ("session", session));
                writer.Sample("fabric_mirror_repair_seconds_count", cell.Ok + cell.Errors, ("site", site), ("session", session));
                for (var i = 0; i < Buckets.Length; i++)
                {
                    writer.Sample("fabric_mirror_repair_seconds_bucket", cell.Buckets[i], ("site", site), ("session", session), ("le", PrometheusTextWriter.FormatValue(Buckets[i])));
                }

                writer.Sample("fabric_mirror_repair_seconds_bucket", cell.Ok + cell.Errors, ("site", site), ("session", session), ("le", "+Inf"));
                writer.Sample("fabric_mirror_repair_seconds_max", cell.MaxSeconds, ("site", site), ("session", session));
                writer.Sample("fabric_mirror_session_health", 1, ("site", site), ("session", session), ("health", cell.Health.ToString().ToLowerInvariant()));
            }
        }
    }

    private sealed class Cell
    {
        public long Ok;
        public long Errors;
        public double SumSeconds;
        public double MaxSeconds;
        public readonly long[] Buckets = new long[MirrorMetrics.Buckets.Length];
        public MirrorHealth Health = MirrorHealth.Unknown;
    }
}
