using Fabric.Actors.DataPlane;
using Xunit;

namespace Fabric.Actors.Tests.DataPlane;

public class StageCountersTests
{
    [Fact]
    public void Snapshot_reports_in_out_and_drops_by_name()
    {
        var counters = new StageCounters("decap", ["filtered", "deduplicated"]);
        counters.AddIn(10, 1000);
        counters.AddOut(7, 700);
        counters.AddDropped(counters.ReasonIndex("filtered"), 2, 200);
        counters.AddDropped(counters.ReasonIndex("deduplicated"), 1, 100);

        var snapshot = counters.Snapshot();
        Assert.Equal(new Count(10, 1000), snapshot.In);
        Assert.Equal(new Count(2, 200), snapshot.Dropped["filtered"]);
        Assert.True(snapshot.Balanced);

        counters.AddIn(1, 1);
        Assert.False(counters.Snapshot().Balanced);
    }

    [Fact]
    public void Unknown_reason_is_refused()
    {
        var counters = new StageCounters("decap", ["filtered"]);
        Assert.Throws<ArgumentException>(() => counters.ReasonIndex("nope"));
    }
}
