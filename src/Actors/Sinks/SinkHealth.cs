namespace Fabric.Actors.Sinks;

/// <summary>
/// A sink's own signal of whether it can deliver now: its TAP device is open, its stream is connected, it has a
/// client. Written by the sink's actor when that changes, read (once per batch, never per packet) by whoever
/// spreads frames over several sinks (<see cref="BalanceSinkActor"/>): a member that is down gets no new flows
/// until it is up again. A sink that gives no signal is always up.
/// </summary>
public sealed class SinkHealth
{
    private volatile bool _up = true;
    private long _changes;

    /// <summary>True while the sink can deliver.</summary>
    public bool Up => _up;

    /// <summary>Times the signal changed (down or up).</summary>
    public long Changes => Interlocked.Read(ref _changes);

    /// <summary>Sets the signal; a repeat of the current value changes nothing.</summary>
    public void Set(bool up)
    {
        if (_up != up)
        {
            _up = up;
            Interlocked.Increment(ref _changes);
        }
    }
}
