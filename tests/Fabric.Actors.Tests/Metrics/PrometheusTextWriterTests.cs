using Akka.TestKit.Xunit2;
using Fabric.Actors.Metrics;
using Xunit;

namespace Fabric.Actors.Tests.Metrics;

public sealed class PrometheusTextWriterTests
{
    [Fact]
    public void Writes_help_type_and_samples_with_escaped_labels()
    {
        var text = new StringWriter();
        var writer = new PrometheusTextWriter(text);

        writer.Family("fabric_drops_total", MetricType.Counter, "Dropped batches.\nPer reason.");
        writer.Sample("fabric_drops_total", 3, ("pipeline", "aws\"mirror"), ("reason", "a\\b\nc"));
        writer.Family("fabric_drops_total", MetricType.Counter, "declared twice, written once");
        writer.Sample("fabric_drops_total", 0.5);

        Assert.Equal(
            "# HELP fabric_drops_total Dropped batches.\\nPer reason.\n" +
            "# TYPE fabric_drops_total counter\n" +
            "fabric_drops_total{pipeline=\"aws\\\"mirror\",reason=\"a\\\\b\\nc\"} 3\n" +
            "fabric_drops_total 0.5\n",
            text.ToString());
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(1e21, "1E+21")]
    public void Formats_special_values(double value, string expected)
    {
        Assert.Equal(expected, PrometheusTextWriter.FormatValue(value));
    }

    [Fact]
    public void Refuses_invalid_names()
    {
        var writer = new PrometheusTextWriter(new StringWriter());

        Assert.Throws<ArgumentException>(() => writer.Sample("9bad", 1));
        Assert.Throws<ArgumentException>(() => writer.Sample("ok", 1, ("bad-label", "x")));
    }
}

public sealed class FabricMetricsTests : TestKit
{
    private sealed class Fixed(string name) : IMetricsSource
    {
        public void Write(PrometheusTextWriter writer)
        {
            writer.Family(name, MetricType.Gauge, name);
            writer.Sample(name, 1);
        }
    }

    [Fact]
    public void Writes_every_registered_source_until_it_is_removed()
    {
        var metrics = FabricMetrics.Get(Sys);
        using var a = metrics.Register(new Fixed("fo_a"));
        var b = metrics.Register(new Fixed("fo_b"));
        b.Dispose();

        var text = new StringWriter();
        metrics.WriteAll(new PrometheusTextWriter(text));

        Assert.Contains("fo_a 1\n", text.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("fo_b", text.ToString(), StringComparison.Ordinal);
        Assert.Same(metrics, FabricMetrics.Get(Sys));
    }
}
