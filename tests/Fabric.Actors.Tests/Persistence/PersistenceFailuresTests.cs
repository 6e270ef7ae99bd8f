using System.Globalization;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Metrics;
using Fabric.Actors.Persistence;

namespace Fabric.Actors.Tests.Persistence;

/// <summary>
/// Journal failures of the persistent actors are counted by actor and kind and served in /metrics
/// as fabric_persistence_failures_total (operators alert on any increase).
/// </summary>
public sealed class PersistenceFailuresTests : TestKit
{
    [Fact]
    public void Failures_are_counted_by_actor_and_kind_and_written_as_one_counter_family()
    {
        var failures = PersistenceFailures.Get(Sys);

        failures.Record("mirror-supervisor", PersistenceFailures.Persist);
        failures.Record("mirror-supervisor", PersistenceFailures.Persist);
        failures.Record("node-history", PersistenceFailures.Recovery);

        Assert.Equal(2, failures.Count("mirror-supervisor", PersistenceFailures.Persist));
        Assert.Equal(0, failures.Count("mirror-supervisor", PersistenceFailures.Rejected));
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        FabricMetrics.Get(Sys).WriteAll(new PrometheusTextWriter(text));
        var metrics = text.ToString();
        Assert.Contains("# TYPE fabric_persistence_failures_total counter\n", metrics, StringComparison.Ordinal);
        Assert.Contains("fabric_persistence_failures_total{actor=\"mirror-supervisor\",kind=\"persist\"} 2\n", metrics, StringComparison.Ordinal);
        Assert.Contains("fabric_persistence_failures_total{actor=\"node-history\",kind=\"recovery\"} 1\n", metrics, StringComparison.Ordinal);
    }
}
