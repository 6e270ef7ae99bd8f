using System.Diagnostics;

namespace Fabric.Tests;

/// <summary>The one poll-until of the tests: check a condition every <c>poll</c> until it holds or the timeout passes.</summary>
public static class Wait
{
    private static readonly TimeSpan DefaultPoll = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Polls <paramref name="condition"/> every <paramref name="poll"/> (100 ms by default) until it holds; after
    /// <paramref name="timeout"/> throws a <see cref="TimeoutException"/> "not within T: <paramref name="describe"/>()".
    /// An exception the condition throws ends the wait, unless <paramref name="retryOn"/> accepts it (then it is
    /// kept for the message and the poll goes on).
    /// </summary>
    public static void Until(Func<bool> condition, TimeSpan timeout, Func<string> describe, TimeSpan? poll = null, Func<Exception, bool>? retryOn = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(describe);
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (true)
        {
            try
            {
                if (condition())
                {
                    return;
                }
            }
            catch (Exception e) when (retryOn?.Invoke(e) == true)
            {
                last = e;
            }

            if (clock.Elapsed > timeout)
            {
                throw Timeout(timeout, describe, last);
            }

            Thread.Sleep(poll ?? DefaultPoll);
        }
    }

    /// <summary>The asynchronous <see cref="Until"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe, TimeSpan? poll = null, Func<Exception, bool>? retryOn = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(describe);
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await condition().ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (Exception e) when (retryOn?.Invoke(e) == true)
            {
                last = e;
            }

            if (clock.Elapsed > timeout)
            {
                throw Timeout(timeout, describe, last);
            }

            await Task.Delay(poll ?? DefaultPoll).ConfigureAwait(false);
        }
    }

    /// <summary>Polls <paramref name="probe"/> until it returns a value and returns that value (see <see cref="UntilAsync"/>).</summary>
    public static async Task<T> ForAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, Func<string> describe, TimeSpan? poll = null)
        where T : struct
    {
        ArgumentNullException.ThrowIfNull(probe);
        T? found = null;
        await UntilAsync(async () => (found = await probe().ConfigureAwait(false)) is not null, timeout, describe, poll).ConfigureAwait(false);
        return found!.Value;
    }

    /// <summary>What the HTTP-polling waits retry on: the server not listening yet, a slow answer, a cut connection.</summary>
    public static bool IsTransientHttp(Exception e) => e is HttpRequestException or TaskCanceledException or IOException;

    private static TimeoutException Timeout(TimeSpan timeout, Func<string> describe, Exception? last) =>
        new($"not within {timeout}: {describe()}" + (last is null ? "" : $" (last error: {last.Message})"), last);
}
