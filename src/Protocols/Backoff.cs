namespace Fabric.Protocols;

/// <summary>
/// Exponential backoff: the first delay is <see cref="Min"/>, each failure in a row doubles it, up
/// to <see cref="Max"/>; <see cref="Reset"/> after a success. Used wherever Fabric retries a
/// connection, a journal or an API (OVSDB sessions, mirror agents, the mirror supervisor's
/// journal, EC2 throttling, capture restarts). Owned by one caller; not thread-safe.
/// </summary>
public sealed class Backoff
{
    public Backoff(TimeSpan min, TimeSpan max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(min, TimeSpan.Zero);
        Min = min;
        Max = max;
    }

    public TimeSpan Min { get; }

    public TimeSpan Max { get; }

    /// <summary>Failures in a row since the last <see cref="Reset"/>.</summary>
    public int Failures { get; private set; }

    /// <summary>The delay before the next attempt, counting one more failure.</summary>
    public TimeSpan Next()
    {
        var delay = Delay(Min, Failures, Max);
        Failures = Math.Min(Failures + 1, 62);
        return delay;
    }

    /// <summary>A success: the next delay is <see cref="Min"/> again.</summary>
    public void Reset() => Failures = 0;

    /// <summary><paramref name="first"/> × 2^<paramref name="attempt"/>, at most <paramref name="max"/> (no overflow).</summary>
    public static TimeSpan Delay(TimeSpan first, int attempt, TimeSpan max)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(attempt);
        if (first <= TimeSpan.Zero)
        {
            return first;
        }

        var ticks = attempt >= 62 || first.Ticks > (max.Ticks >> attempt) ? max.Ticks : first.Ticks << attempt;
        return TimeSpan.FromTicks(Math.Min(ticks, max.Ticks));
    }
}
