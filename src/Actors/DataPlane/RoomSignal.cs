namespace Fabric.Actors.DataPlane;

/// <summary>
/// Wakes a producer that waits for room (a slot of a <see cref="BatchQueue"/>, a batch of a
/// <see cref="PacketBatchPool"/>): the consumer calls <see cref="Set"/> each time it frees one, and the producer
/// blocks in the kernel (a futex, through <see cref="ManualResetEventSlim"/>) until then, instead of sleep-polling.
/// A 1 ms <c>Thread.Sleep</c> on a contended machine costs a whole time slice before the thread runs again, while
/// the kernel ring fills (issue 16). The producer's protocol, which cannot miss a wake-up:
/// <code>
/// var spin = default(SpinWait);
/// while (!TryTake() &amp;&amp; !stopping) room.WaitStep(ref spin, timeoutMs);
/// </code>
/// <see cref="WaitStep"/> spins a little, then resets the event when it is set (so the caller tries again after
/// the reset), and blocks only when it is not: a slot freed after the reset sets it again, so the wait returns
/// at once. To stop a waiting producer, set the event after setting the producer's stop flag.
/// </summary>
public sealed class RoomSignal
{
    // Not disposable: a ManualResetEventSlim whose WaitHandle is never read holds no kernel object (it waits
    // on a monitor). Barely any spinning inside the event: the producer spins briefly itself before it waits.
    private readonly ManualResetEventSlim _event = new(initialState: false, spinCount: 1);

    /// <summary>Room was made (a slot or a batch freed), or the producer is asked to stop.</summary>
    public void Set() => _event.Set();

    public void Reset() => _event.Reset();

    /// <summary>Blocks until <see cref="Set"/> or the timeout; true when set.</summary>
    public bool Wait(int timeoutMs) => _event.Wait(timeoutMs);

    public bool IsSet => _event.IsSet;

    /// <summary>One step of a producer's wait for room (see the class): a short spin while
    /// <paramref name="spin"/> would not yet yield; then, when the event is set, resets it and returns (the caller
    /// tries again); otherwise blocks until <see cref="Set"/> or <paramref name="timeoutMs"/>. Never sleeps a fixed
    /// time.</summary>
    public void WaitStep(ref SpinWait spin, int timeoutMs)
    {
        if (!spin.NextSpinWillYield)
        {
            spin.SpinOnce(sleep1Threshold: -1);
            return;
        }

        if (_event.IsSet)
        {
            _event.Reset();
            return;
        }

        _event.Wait(timeoutMs);
    }
}
