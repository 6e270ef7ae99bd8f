namespace Fabric.Actors.Capture;

/// <summary>
/// Extends a 32-bit counter that wraps (libpcap's <c>struct pcap_stat</c> fields are <c>u_int</c>: at
/// 1 M packets/s <c>ps_recv</c> wraps after about 71 minutes) into a 64-bit running total. Correct as
/// long as it is sampled at least once per wrap; the capture loop samples every half second.
/// </summary>
internal struct Counter32
{
    private uint _last;
    private long _total;

    /// <summary>The running total.</summary>
    public readonly long Total => _total;

    /// <summary>Takes a new sample of the 32-bit counter and returns the running total.</summary>
    public long Sample(uint raw)
    {
        _total += unchecked(raw - _last);
        _last = raw;
        return _total;
    }
}
