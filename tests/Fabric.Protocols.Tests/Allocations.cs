namespace Fabric.Protocols.Tests;

/// <summary>
/// Measures managed allocation on the current thread. The runtime makes one-off allocations of its
/// own on a thread (tier-up, call counting) that can land in any single measurement window, so the
/// measure is the least of several windows after a warm-up: an allocation made per packet shows in
/// every window and still fails the test.
/// </summary>
internal static class Allocations
{
    public static long[] PerWindow(Action window, int warmUps = 3, int windows = 3)
    {
        for (var i = 0; i < warmUps; i++)
        {
            window();
        }

        var bytes = new long[windows];
        for (var i = 0; i < windows; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            window();
            bytes[i] = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        return bytes;
    }

    public static void AssertNone(Action window, string what)
    {
        var bytes = PerWindow(window);
        Assert.True(bytes.Min() == 0, $"{what}: bytes allocated per window: {string.Join(", ", bytes)}");
    }
}
