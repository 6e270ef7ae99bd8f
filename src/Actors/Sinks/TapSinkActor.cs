using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane;

namespace Fabric.Actors.Sinks;

/// <summary>
/// Writes every frame of each batch to a persistent TAP device. When the device is deleted under it (a write
/// fails with EBADFD) it re-creates it at once and then, if that fails, once a second; frames that arrive while
/// there is no device are counted as "device-missing". Each event is logged once, not per retry or per frame.
/// It also asks its descriptor every <see cref="WatchInterval"/> whether the device is still there (TUNGETIFF), so a
/// TAP deleted while no frame comes is re-created too (one moved to another namespace is still there); its
/// <see cref="SinkHealth"/> is down while there is no device.
/// </summary>
public sealed class TapSinkActor : BatchStageActor, IWithTimers
{
    public static readonly IReadOnlyList<string> DropReasons = ["queue-full", "write-error", "device-missing"];

    /// <summary>Event counters: times the device was re-created after it disappeared.</summary>
    public static readonly IReadOnlyList<string> EventNames = ["recreated"];

    /// <summary>How often an open device is checked (TUNGETIFF on its descriptor).</summary>
    public static readonly TimeSpan WatchInterval = TimeSpan.FromMilliseconds(250);

    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);
    private readonly TapSinkSettings _settings;
    private readonly SinkHealth _health;
    private readonly int _writeError;
    private readonly int _deviceMissing;
    private readonly int _recreated;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private TapDevice? _device;

    /// <summary>io-uring = on: the ring the frames are written through; null when off or refused (then write() each).</summary>
    private Native.WriteRing? _ring;
    private readonly int[] _errnos = new int[Native.WriteRing.Entries * 4];

    /// <summary>mark-source: the VLAN id of each source id, 0 until its first frame.</summary>
    private readonly ushort[] _vlanOf = new ushort[Fabric.Protocols.Decap.SourceTable.Limit + 1];
    private byte[] _marked = new byte[9216 + 4];
    private bool _missingReported;
    private bool _wasOpen;

    public TapSinkActor(TapSinkSettings settings, BatchQueue queue, StageCounters counters, SinkHealth? health = null)
        : base(queue, counters, settings.Cpu, nice: settings.Nice)
    {
        _settings = settings;
        _health = health ?? new SinkHealth();
        _writeError = counters.ReasonIndex("write-error");
        _deviceMissing = counters.ReasonIndex("device-missing");
        _recreated = counters.EventIndex("recreated");
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(TapSinkSettings settings, BatchQueue queue, StageCounters counters, SinkHealth? health = null) =>
        Akka.Actor.Props.Create(() => new TapSinkActor(settings, queue, counters, health));

    protected override void PreStart()
    {
        base.PreStart();
        if (_settings.IoUring)
        {
            _ring = Native.WriteRing.TryCreate(out int errno);
            if (_ring is null)
            {
                _log.Warning("TAP {0}: no io_uring ({1}); writing one frame per write()", _settings.Device, Native.Libc.ErrorText(errno));
            }
        }

        TryOpen();
        Timers.StartPeriodicTimer(Watch.Instance, Watch.Instance, WatchInterval);
    }

    protected override void PostStop()
    {
        _device?.Dispose();
        _device = null;
        _ring?.Dispose();
        _ring = null;
    }

    protected override void OnControl(object message)
    {
        switch (message)
        {
            case Reopen:
                if (_device is null)
                {
                    TryOpen();
                }

                break;
            case Watch:
                if (_device is not null && !_device.IsAttached())
                {
                    _device.Dispose();
                    _device = null;
                    _log.Warning("TAP {0} was deleted; re-creating it", _settings.Device);
                    TryOpen();
                }

                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>Writes every frame of the batch: through the io_uring while there is one (and no frame is marked),
    /// the rest, and every frame after a device-gone error, one write() each.</summary>
    protected override void Process(PacketBatch batch, int count, long bytes)
    {
        var tally = default(Tally);
        int i = _ring is not null && !_settings.MarkSource ? WriteThroughRing(batch, count, ref tally) : 0;
        for (; i < count; i++)
        {
            WriteOne(batch, i, ref tally);
        }

        Counters.AddOut(tally.OutPackets, tally.OutBytes);
        Counters.AddDropped(_writeError, tally.ErrorPackets, tally.ErrorBytes);
        Counters.AddDropped(_deviceMissing, tally.MissingPackets, tally.MissingBytes);
    }

    /// <summary>Frames 0.. through the ring, <see cref="WriteRing.Entries"/> per io_uring_enter; returns the first frame
    /// left to <see cref="WriteOne"/>: the end, a frame whose device is gone (it is re-created there), or where the
    /// ring failed (then the ring is dropped, logged once, and every later frame is written one by one).</summary>
    private int WriteThroughRing(PacketBatch batch, int count, ref Tally tally)
    {
        var lengths = batch.CapturedLengths;
        int i = 0;
        while (i < count && _device is not null)
        {
            int n = Math.Min(count - i, _errnos.Length);
            int settled = _device.WriteBatch(_ring!, batch, i, n, _errnos, out int ringErrno);
            for (int k = 0; k < settled; k++)
            {
                int errno = _errnos[k];
                if (errno != 0 && TapDevice.IsDeviceGone(errno))
                {
                    return i + k;
                }

                tally.Add(errno, lengths[i + k]);
            }

            i += settled;
            if (ringErrno != 0)
            {
                _log.Warning("TAP {0}: io_uring failed ({1}); writing one frame per write() from now on",
                    _settings.Device, Native.Libc.ErrorText(ringErrno));
                _ring!.Dispose();
                _ring = null;
                return i;
            }
        }

        return i;
    }

    private void WriteOne(PacketBatch batch, int i, ref Tally tally)
    {
        int length = batch.CapturedLengths[i];
        if (_device is null)
        {
            tally.MissingPackets++;
            tally.MissingBytes += length;
            return;
        }

        var frame = _settings.MarkSource ? Marked(batch, i) : batch.Packet(i);
        int errno = _device.Write(frame);
        if (errno != 0 && TapDevice.IsDeviceGone(errno))
        {
            _device.Dispose();
            _device = null;
            _log.Warning("TAP {0} was deleted; re-creating it", _settings.Device);
            if (!TryOpen())
            {
                tally.MissingPackets++;
                tally.MissingBytes += length;
                return;
            }

            errno = _device!.Write(frame);
        }

        tally.Add(errno, length);
    }

    /// <summary>What one batch did, added to the counters once.</summary>
    private struct Tally
    {
        public long OutPackets, OutBytes, ErrorPackets, ErrorBytes, MissingPackets, MissingBytes;

        public void Add(int errno, int length)
        {
            if (errno == 0)
            {
                OutPackets++;
                OutBytes += length;
            }
            else
            {
                ErrorPackets++;
                ErrorBytes += length;
            }
        }
    }

    /// <summary>The frame with an outer 802.1Q tag (PCP 0) whose VLAN id names its source id, in the sink's own
    /// buffer: destination and source MAC, 0x8100 and the tag, then the frame from its EtherType on.</summary>
    private ReadOnlySpan<byte> Marked(PacketBatch batch, int i)
    {
        var frame = batch.Packet(i);
        if (frame.Length < 12)
        {
            return frame;
        }

        int id = batch.Sources is null ? 0 : batch.SourceIds[i];
        ushort vlan = _vlanOf[id];
        if (vlan == 0)
        {
            vlan = _settings.VlanFor(id, batch.Sources is { } table ? table[id].Name : "other");
            _vlanOf[id] = vlan;
        }

        int length = frame.Length + 4;
        if (_marked.Length < length)
        {
            _marked = new byte[Math.Max(length, 2 * _marked.Length)];
        }

        frame[..12].CopyTo(_marked);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(_marked.AsSpan(12), 0x8100);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(_marked.AsSpan(14), vlan);
        frame[12..].CopyTo(_marked.AsSpan(16));
        return _marked.AsSpan(0, length);
    }

    private bool TryOpen()
    {
        try
        {
            _device = TapDevice.Open(_settings.Device, _settings.Mtu, _settings.Persistent);
            _health.Set(true);
            if (_missingReported || _wasOpen)
            {
                Counters.AddEvent(_recreated, 1);
                _log.Info("TAP {0} re-created", _settings.Device);
            }
            else
            {
                _log.Info("TAP {0} open (mtu {1})", _settings.Device, _settings.Mtu);
            }

            _missingReported = false;
            _wasOpen = true;
            return true;
        }
        catch (TapDeviceException e)
        {
            _health.Set(false);
            if (!_missingReported)
            {
                _log.Error("{0}; retrying every {1}", e.Message, RetryInterval);
                _missingReported = true;
            }

            Timers.StartSingleTimer(Reopen.Instance, Reopen.Instance, RetryInterval);
            return false;
        }
    }

    private sealed class Reopen
    {
        public static readonly Reopen Instance = new();
    }

    private sealed class Watch
    {
        public static readonly Watch Instance = new();
    }
}

/// <summary>A TAP sink: <c>{ type = tap, device = mon0, mtu = 9000, persistent = on }</c>.</summary>
public sealed record TapSinkSettings : SinkSettings
{
    public override IReadOnlyList<string> DropReasons => TapSinkActor.DropReasons;

    public override IReadOnlyList<string> EventNames => TapSinkActor.EventNames;

    public override Props CreateProps(BatchQueue queue, StageCounters counters) => TapSinkActor.Props(this, queue, counters);

    public override Props CreateProps(BatchQueue queue, StageCounters counters, SinkHealth health) => TapSinkActor.Props(this, queue, counters, health);

    public required string Device { get; init; }

    public required int Mtu { get; init; }

    public required bool Persistent { get; init; }

    /// <summary><c>io-uring</c> (default on): write each batch through an io_uring, one io_uring_enter per 256 frames
    /// instead of one write() per frame; off, or when the kernel refuses a ring, one write() per frame.</summary>
    public bool IoUring { get; init; } = true;

    /// <summary><c>mark-source = vlan</c>: every frame gets an outer 802.1Q tag naming its source id.</summary>
    public bool MarkSource { get; init; }

    /// <summary><c>vlan-base</c>: a source id without an entry in <see cref="Vlans"/> is marked with VLAN base + id
    /// ("other", id 0, with the base itself); ids past 4094 with the base too.</summary>
    public int VlanBase { get; init; } = 1000;

    /// <summary><c>vlans = [ { source = "erspan 198.18.1.10 session 7", vlan = 107 } ]</c>: VLAN ids by source name.</summary>
    public IReadOnlyDictionary<string, int> Vlans { get; init; } = new Dictionary<string, int>();

    /// <summary>The VLAN id that marks source <paramref name="id"/> named <paramref name="name"/>.</summary>
    public ushort VlanFor(int id, string name)
    {
        if (Vlans.TryGetValue(name, out var vlan))
        {
            return (ushort)vlan;
        }

        var allocated = VlanBase + id;
        return (ushort)(allocated <= 4094 ? allocated : VlanBase);
    }
}
