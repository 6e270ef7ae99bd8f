namespace Fabric.Actors.Capture;

/// <summary>
/// State of one capture thread that the thread publishes and others read: libpcap's own counters (summed over
/// every time the interface was opened), the thread id (to check pinning), and the outages of the interface.
/// </summary>
public sealed class CaptureStatus
{
    private long _kernelReceived;
    private long _kernelDropped;
    private long _interfaceDropped;
    private long _sessionReceived;
    private long _sessionDropped;
    private long _sessionInterfaceDropped;
    private long _outages;
    private long _opens;
    private int _threadId;
    private int _up;
    private int _finished;

    /// <summary>OS thread id of the capture thread (gettid), 0 before it started.</summary>
    public int ThreadId => Volatile.Read(ref _threadId);

    /// <summary>True while the source is open and being read.</summary>
    public bool Up => Volatile.Read(ref _up) != 0;

    /// <summary>True when a file source has been read to its end.</summary>
    public bool Finished => Volatile.Read(ref _finished) != 0;

    /// <summary>Times the interface disappeared or failed while open.</summary>
    public long Outages => Interlocked.Read(ref _outages);

    /// <summary>Times the source was opened (1 + re-opens).</summary>
    public long Opens => Interlocked.Read(ref _opens);

    /// <summary>libpcap ps_recv, summed over sessions.</summary>
    public long KernelReceived => Interlocked.Read(ref _kernelReceived) + Interlocked.Read(ref _sessionReceived);

    /// <summary>libpcap ps_drop (no room in the kernel buffer), summed over sessions.</summary>
    public long KernelDropped => Interlocked.Read(ref _kernelDropped) + Interlocked.Read(ref _sessionDropped);

    /// <summary>libpcap ps_ifdrop (dropped by the interface), summed over sessions.</summary>
    public long InterfaceDropped => Interlocked.Read(ref _interfaceDropped) + Interlocked.Read(ref _sessionInterfaceDropped);

    /// <summary>The last error of the source, or null.</summary>
    public string? LastError { get; private set; }

    internal void Started(int threadId) => Volatile.Write(ref _threadId, threadId);

    internal void Opened()
    {
        Interlocked.Increment(ref _opens);
        Volatile.Write(ref _up, 1);
    }

    internal void SessionStats(long received, long dropped, long interfaceDropped)
    {
        Interlocked.Exchange(ref _sessionReceived, received);
        Interlocked.Exchange(ref _sessionDropped, dropped);
        Interlocked.Exchange(ref _sessionInterfaceDropped, interfaceDropped);
    }

    /// <summary>The source closed (error, disappearance or stop): fold this session's counters into the totals.</summary>
    internal void Closed(string? error)
    {
        Interlocked.Add(ref _kernelReceived, Interlocked.Exchange(ref _sessionReceived, 0));
        Interlocked.Add(ref _kernelDropped, Interlocked.Exchange(ref _sessionDropped, 0));
        Interlocked.Add(ref _interfaceDropped, Interlocked.Exchange(ref _sessionInterfaceDropped, 0));
        if (error is not null)
        {
            LastError = error;
            Interlocked.Increment(ref _outages);
        }

        Volatile.Write(ref _up, 0);
    }

    /// <summary>The source could not be opened (missing interface, refused setting): the reason, shown as the last error.</summary>
    internal void Unavailable(string? error) => LastError = error;

    internal void EndOfFile() => Volatile.Write(ref _finished, 1);
}
