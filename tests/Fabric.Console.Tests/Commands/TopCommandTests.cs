using System.Text.Json;
using Fabric.Console.Commands;

namespace Fabric.Console.Tests.Commands;

public sealed class TopCommandTests
{
    [Fact]
    public void Sparkline_scales_to_the_largest_value()
    {
        Assert.Equal("▁▃█", TopModel.Sparkline([0, 2, 7])); // 8 levels: 2 of 7 is the third
        Assert.Equal("▁▁▁", TopModel.Sparkline([0, 0, 0]));
        Assert.Equal("", TopModel.Sparkline([]));
    }

    [Fact]
    public void Rates_are_per_second_between_samples_and_a_restart_counts_from_zero()
    {
        var rates = new TopModel.PipelineRates();
        rates.Add(TopModel.Totals.From(Pipeline(captured: 100, bytes: 10_000, delivered: 90, dropped: 10, queueFull: 4)), 1);
        Assert.Empty(rates.CapturedHistory); // one sample: no rate yet

        rates.Add(TopModel.Totals.From(Pipeline(captured: 300, bytes: 30_000, delivered: 270, dropped: 30, queueFull: 10)), 2);
        Assert.Equal(100, rates.CapturedPerSecond);
        Assert.Equal(80_000, rates.BitsPerSecond);
        Assert.Equal(90, rates.DeliveredPerSecond);
        Assert.Equal(3, rates.DropsPerSecond); // (10 - 4) queue-full over 2 s: frames without a tunnel header are passed over, not drops
        Assert.Equal(30, rates.Last.DropsByReason["not-encapsulated"]);
        Assert.Equal(10, rates.Last.DropsByReason["queue-full"]);

        rates.Add(TopModel.Totals.From(Pipeline(captured: 50, bytes: 5_000, delivered: 45, dropped: 5)), 1);
        Assert.Equal(50, rates.CapturedPerSecond);
        Assert.Equal([100.0, 50.0], rates.CapturedHistory);
    }

    // The shape of GET /pipelines/stats for one pipeline (Fabric.Node's PipelineRoutes).
    private static JsonElement Pipeline(long captured, long bytes, long delivered, long dropped, long queueFull = 0) =>
        JsonSerializer.SerializeToElement(new
        {
            name = "p",
            state = "running",
            stages = new object[]
            {
                new
                {
                    stage = "capture",
                    @in = new { packets = captured, bytes },
                    @out = new { packets = captured, bytes },
                    dropped = new Dictionary<string, object> { ["queue-full"] = new { packets = queueFull, bytes = 0 } },
                },
                new
                {
                    stage = "decap",
                    @in = new { packets = captured, bytes },
                    @out = new { packets = delivered, bytes = 0 },
                    dropped = new Dictionary<string, object> { ["not-encapsulated"] = new { packets = dropped, bytes = 0 } },
                },
            },
        });
}
