using Akka.Event;
using Fabric.Actors.DataPlane;
using Xunit;

namespace Fabric.Actors.Tests.DataPlane;

public class ThreadNiceTests
{
    [Fact]
    public void It_sets_the_nice_of_the_calling_thread_only()
    {
        int processNice = ThreadNice.OfCurrentThread();
        int target = Math.Min(processNice + 5, ThreadNice.Max); // raising the nice needs no privilege
        int applied = int.MinValue;
        bool ok = false;
        var thread = new Thread(() =>
        {
            ok = new ThreadNice("p", target).ApplyToCurrentThread(NoLogger.Instance, "test");
            applied = ThreadNice.OfCurrentThread();
        });
        thread.Start();
        thread.Join();

        Assert.True(ok);
        Assert.Equal(target, applied);
        Assert.Equal(processNice, ThreadNice.OfCurrentThread()); // the test's own thread is untouched
    }

    [Theory]
    [InlineData(-21)]
    [InlineData(20)]
    public void Values_outside_minus_20_to_19_are_not_a_nice(int value)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ThreadNice("p", value));
    }
}
