using System.Diagnostics;
using System.Runtime.InteropServices;
using Akka.Event;
using Fabric.Actors.DataPlane;
using Fabric.Protocols;
using Fabric.Protocols.Pcap;
using SharpPcap;
using SharpPcap.LibPcap;

namespace Fabric.Actors.Capture;

/// <summary>
/// The body of a capture thread: reads packets with pcap_next_ex (no allocation: pointers into libpcap's ring)
/// from a live source, or with Fabric's own <see cref="CaptureFileReader"/> (pcap and pcapng, the reader of
/// <c>fabric decap</c>; no allocation per record) from a file, copies them into pooled batches and posts full
/// batches (or partial ones after the flush interval) to the decap stage. When the decap stage is behind (its
/// queue full, or every batch of the pool in use) the loop stops reading and waits for it: the packets stay in
/// the kernel ring (<c>source.buffer-size</c>, far larger than the pipeline's queues), and only when that ring
/// overflows does the kernel drop, counted by libpcap as <c>kernelDropped</c> exactly as tcpdump's are. A sink
/// with <c>when-full = wait</c> holds the pool's batches when it is behind, so capture waits for it the same way;
/// one with <c>when-full = drop</c> drops at its own queue and never stalls capture. When the interface
/// disappears the loop closes it, backs off and re-opens it when it is back, logging once per event.
/// </summary>
internal sealed unsafe class CaptureLoop
{
    private readonly CaptureSettings _settings;
    private readonly PacketBatchPool _pool;
    private readonly BatchQueue _downstream;
    private readonly StageCounters _counters;
    private readonly CaptureStatus _status;
    private readonly ILoggingAdapter _log;
    private readonly ManualResetEventSlim _stop = new();
    private PacketBatch? _batch;
    private long _batchStarted;
    private long _sequence;
    private long _inPackets;
    private long _inBytes;
    private Counter32 _received;
    private Counter32 _dropped;
    private Counter32 _interfaceDropped;

    public CaptureLoop(CaptureSettings settings, PacketBatchPool pool, BatchQueue downstream, StageCounters counters,
        CaptureStatus status, ILoggingAdapter log)
    {
        _settings = settings;
        _pool = pool;
        _downstream = downstream;
        _counters = counters;
        _status = status;
        _log = log;
        _stopped = counters.ReasonIndex("stopped");
    }

    /// <summary>The capture stage drops nothing while running: what it cannot take stays in the kernel ring,
    /// whose overflow libpcap counts (<see cref="CaptureStatus.KernelDropped"/>). Only the packets of the batch
    /// in hand when the pipeline is stopped while decap is behind are dropped, as <c>stopped</c>.</summary>
    public static readonly IReadOnlyList<string> DropReasons = ["stopped"];

    private const int PollTimeoutMs = 10;

    private readonly int _stopped;
    private PcapDevice? _liveDevice;
    private long _lastStats;

    public void Stop()
    {
        _stop.Set();
        _pool.Room.Set();
        _downstream.Room.Set();
    }

    /// <summary>The thread's entry point: an unexpected failure stops this capture (status down, the
    /// error in <c>source.lastError</c>, logged once) instead of taking the node down with it.</summary>
    public void Run()
    {
        try
        {
            RunLoop();
        }
        catch (Exception e)
        {
            _log.Error(e, "Capture thread for {0} failed; this source stopped capturing (restart the pipeline)", _settings.SourceName);
            _status.Closed($"capture thread failed: {e.GetType().Name}: {e.Message}");
        }
    }

    private void RunLoop()
    {
        int tid = _settings.Cpu is int cpu ? CpuAffinity.PinCurrentThread(cpu) : Native.Libc.gettid();
        _status.Started(tid);
        var backoff = new Backoff(TimeSpan.FromMilliseconds(50), _settings.MaxBackoff);
        bool reportedMissing = false;
        while (!_stop.IsSet)
        {
            CaptureFileReader? file = null;
            PcapDevice? device = null;
            string? error;
            if (_settings.File is not null)
            {
                file = TryOpenFile(out error);
            }
            else
            {
                device = TryOpenLive(out error);
            }

            if (device is null && file is null)
            {
                if (!reportedMissing)
                {
                    _status.Unavailable(error);
                    _log.Warning("Capture source {0} is not available ({1}); waiting for it", _settings.SourceName, error);
                    reportedMissing = true;
                }

                _stop.Wait(backoff.Next());
                continue;
            }

            if (reportedMissing)
            {
                _log.Info("Capture source {0} is back; capturing again", _settings.SourceName);
                reportedMissing = false;
            }

            backoff.Reset();
            _received = _dropped = _interfaceDropped = default; // libpcap counts each handle from zero
            _status.Opened();
            string? failure = file is not null ? ReadFile(file) : ReadLive(device!);
            Flush();
            if (device is not null)
            {
                PublishStats(device);
                device.Close();
            }

            file?.Dispose();
            _status.Closed(failure);
            if (failure is not null)
            {
                _log.Warning("Capture source {0} failed: {1}; re-opening when it is back", _settings.SourceName, failure);
                reportedMissing = true;
            }

            if (_settings.File is not null)
            {
                _status.EndOfFile();
                break;
            }
        }

        Flush();
        if (_batch is not null)
        {
            _batch.SetReferences(1);
            _batch.Release();
            _batch = null;
        }
    }

    private CaptureFileReader? TryOpenFile(out string? error)
    {
        error = null;
        try
        {
            return CaptureFileReader.Open(_settings.File!);
        }
        catch (Exception e) when (e is CaptureFileException or IOException or UnauthorizedAccessException)
        {
            error = $"{e.GetType().Name}: {e.Message}";
            return null;
        }
    }

    private PcapDevice? TryOpenLive(out string? error)
    {
        error = null;
        LibPcapLiveDevice? device = null;
        try
        {
            if (!Directory.Exists($"/sys/class/net/{_settings.Interface}"))
            {
                error = "no such interface";
                return null;
            }

            var pcapInterface = PcapInterface.GetAllPcapInterfaces().FirstOrDefault(i => i.Name == _settings.Interface);
            if (pcapInterface is null)
            {
                error = "libpcap does not list it";
                return null;
            }

            device = new LibPcapLiveDevice(pcapInterface);
            device.Open(new DeviceConfiguration
            {
                Snaplen = _settings.Snaplen,
                Mode = _settings.Promiscuous ? DeviceModes.Promiscuous : DeviceModes.None,
                ReadTimeout = 10,
                BufferSize = _settings.KernelBufferBytes, // pcap_set_buffer_size (KernelBufferSize is Windows' pcap_setbuff)
                TimestampResolution = TimestampResolution.Nanosecond,
            });
            if (_settings.Filter is not null)
            {
                device.Filter = _settings.Filter;
            }

            device.NonBlockingMode = true;
            return device;
        }
        catch (Exception e) when (e is PcapException or PlatformNotSupportedException or InvalidOperationException or IOException)
        {
            // SharpPcap reports a setting libpcap refused as PlatformNotSupportedException or
            // InvalidOperationException; either way the source is not usable as configured.
            error = $"{e.GetType().Name}: {e.Message}";
            device?.Close();
            return null;
        }
    }

    /// <summary>Reads in non-blocking mode and waits in poll() when nothing is there, so the loop wakes up
    /// at least every <see cref="PollTimeoutMs"/> to hand on a partly filled batch and to see a stop request
    /// (a blocking pcap_next_ex on a TPACKET_V3 ring may not return while the interface is idle).</summary>
    private string? ReadLive(PcapDevice device)
    {
        _liveDevice = device;
        _lastStats = Stopwatch.GetTimestamp();
        nint header = 0, data = 0;
        var pollFd = new Native.Libc.PollFd
        {
            Fd = Native.LibPcap.pcap_get_selectable_fd(device.Handle.DangerousGetHandle()),
            Events = Native.Libc.POLLIN,
        };
        while (!_stop.IsSet)
        {
            int rc = device.GetNextPacketPointers(ref header, ref data);
            if (rc == 1)
            {
                Append((PcapHeader*)header, (byte*)data);
            }
            else if (rc < 0)
            {
                return device.LastError is { Length: > 0 } text ? text : $"pcap_next_ex returned {rc}";
            }
            else
            {
                pollFd.Revents = 0;
                Native.Libc.poll(&pollFd, 1, PollTimeoutMs);
            }

            long now = Stopwatch.GetTimestamp();
            if (now - _batchStarted >= _settings.FlushInterval.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond)
            {
                // Hand on a partly filled batch, and publish the counters even when there is no batch
                // (packets counted as no-buffer while every batch was downstream).
                Flush();
                _batchStarted = now;
            }

            PublishStatsEveryHalfSecond(now);
        }

        _liveDevice = null;
        return null;
    }

    private void PublishStatsEveryHalfSecond(long now)
    {
        if (_liveDevice is not null && now - _lastStats >= Stopwatch.Frequency / 2)
        {
            PublishStats(_liveDevice);
            _lastStats = now;
        }
    }

    /// <summary>Waits for room at <paramref name="room"/> (the decap queue's or the pool's, set by the stage that
    /// frees a slot or a batch): a short spin, then a blocking wait on the event, never a fixed sleep (a 1 ms sleep
    /// costs a whole time slice on a contended machine while the kernel ring fills). Wakes at least every
    /// <see cref="RoomWaitMs"/> to keep the kernel counters current. False when the loop is asked to stop.</summary>
    private bool WaitForDecap(RoomSignal room, ref SpinWait spin)
    {
        if (_stop.IsSet)
        {
            return false;
        }

        room.WaitStep(ref spin, RoomWaitMs);
        PublishStatsEveryHalfSecond(Stopwatch.GetTimestamp());
        return !_stop.IsSet;
    }

    private const int RoomWaitMs = 100;

    /// <summary>Reads the file to its end; returns the reader's one-line problem when the file ends abnormally
    /// (a torn last record, a malformed block), after the good records before it were handed on. The source's
    /// <c>filter</c> is applied as libpcap applies it to a live source: a record it rejects is not captured
    /// (neither counted nor delivered).</summary>
    private string? ReadFile(CaptureFileReader file)
    {
        using var filter = _settings.Filter is { } expression ? BpfFilter.Compile(expression, _settings.Snaplen) : null;
        long firstPacketNs = -1;
        long startTicks = Stopwatch.GetTimestamp();
        while (!_stop.IsSet)
        {
            CaptureReadStatus status;
            CaptureRecord record;
            try
            {
                status = file.ReadNext(out record);
            }
            catch (IOException e)
            {
                return $"{e.GetType().Name}: {e.Message}";
            }

            if (status == CaptureReadStatus.EndOfFile)
            {
                return null;
            }

            if (status != CaptureReadStatus.Packet)
            {
                return file.Problem ?? status.ToString();
            }

            if (filter is not null && !filter.Matches(record.Data, record.OriginalLength))
            {
                continue;
            }

            long ts = record.TimestampNs;
            if (_settings.Speed == FileSpeed.Original)
            {
                if (firstPacketNs < 0)
                {
                    firstPacketNs = ts;
                }

                long dueTicks = startTicks + (long)((ts - firstPacketNs) / 1e9 * Stopwatch.Frequency);
                long waitTicks = dueTicks - Stopwatch.GetTimestamp();
                if (waitTicks > 0)
                {
                    Flush();
                    if (_stop.Wait(TimeSpan.FromSeconds((double)waitTicks / Stopwatch.Frequency)))
                    {
                        return null;
                    }
                }
            }

            Append(record.Data, record.OriginalLength, ts);
        }

        return null;
    }

    private void Append(PcapHeader* header, byte* data)
    {
        long ts = header->Seconds * 1_000_000_000L + header->Fraction;
        Append(new ReadOnlySpan<byte>(data, (int)header->CapturedLength), (int)header->OriginalLength, ts);
    }

    private void Append(ReadOnlySpan<byte> packet, int originalLength, long ts)
    {
        _inPackets++;
        _inBytes += packet.Length;
        if (_batch is null && !Rent())
        {
            return; // stopping
        }

        if (!_batch!.TryAppend(packet, originalLength, ts))
        {
            Flush();
            if (_batch is null && !Rent())
            {
                return; // stopping
            }

            _batch!.TryAppend(packet, originalLength, ts);
        }
    }

    /// <summary>Takes an empty batch from the pool, waiting while every batch is in use downstream (the
    /// packets wait in the kernel ring meanwhile). False only when the loop is asked to stop.</summary>
    private bool Rent()
    {
        _batch = _pool.TryRent();
        var spin = default(SpinWait);
        while (_batch is null && WaitForDecap(_pool.Room, ref spin))
        {
            _batch = _pool.TryRent();
        }

        _batchStarted = Stopwatch.GetTimestamp();
        return _batch is not null;
    }

    /// <summary>Publishes the counters and hands the current batch on, waiting while the decap stage's queue
    /// is full. Only a stop request can leave a batch behind: its packets are counted as <c>stopped</c>.</summary>
    private void Flush()
    {
        _counters.AddIn(_inPackets, _inBytes);
        _inPackets = _inBytes = 0;
        var batch = _batch;
        if (batch is null || batch.Count == 0)
        {
            return;
        }

        long bytes = batch.TotalBytes();
        int count = batch.Count;
        batch.Sequence = ++_sequence;
        bool posted = _downstream.TryPost(batch);
        var spin = default(SpinWait);
        while (!posted && WaitForDecap(_downstream.Room, ref spin))
        {
            posted = _downstream.TryPost(batch);
        }

        if (posted)
        {
            _counters.AddOut(count, bytes);
            _batch = null;
        }
        else
        {
            _counters.AddDropped(_stopped, count, bytes);
            batch.Reset();
        }
    }

    private void PublishStats(PcapDevice device)
    {
        if (!device.Opened)
        {
            return;
        }

        Native.LibPcap.PcapStat stats;
        if (Native.LibPcap.pcap_stats(device.Handle.DangerousGetHandle(), &stats) == 0)
        {
            _status.SessionStats(_received.Sample(stats.Received), _dropped.Sample(stats.Dropped),
                _interfaceDropped.Sample(stats.InterfaceDropped));
        }
    }

    /// <summary>struct pcap_pkthdr on LP64 Linux (timeval of two longs; the fraction is ns when the handle was
    /// opened with nanosecond precision).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct PcapHeader
    {
        public long Seconds;
        public long Fraction;
        public uint CapturedLength;
        public uint OriginalLength;
    }
}
