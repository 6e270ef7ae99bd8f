using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Pipelines;
using Fabric.Protocols.Pcap;

namespace Fabric.Actors.Sinks;

/// <summary>
/// Writes inner frames to rotating PCAP files <c>&lt;dir&gt;/&lt;pipeline&gt;-&lt;UTC timestamp&gt;.pcap</c>:
/// a new file when the current one would exceed the rotation size or is older than the rotation interval;
/// old files removed (oldest first, never the current one) while the sink's files exceed the kept size or are
/// older than the kept age. Records go through a large write buffer that only holds whole records, flushed on a
/// timer; on start, files torn by a crash are trimmed to their last whole record. Actor name: <c>sink-N</c>.
/// </summary>
public sealed class PcapSinkActor : UntypedActor, IWithTimers
{
    public static readonly IReadOnlyList<string> DropReasons = ["queue-full", "write-error"];

    /// <summary>Event counters: files started, files removed by retention.</summary>
    public static readonly IReadOnlyList<string> EventNames = ["files-created", "files-removed"];

    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);
    private readonly PcapSinkSettings _settings;
    private readonly BatchQueue _queue;
    private readonly StageCounters _counters;
    private readonly int _writeError;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private PcapWriter? _writer;
    private string? _path;
    private DateTime _opened;
    private DateTime _nextAttempt;
    private bool _failureReported;

    public PcapSinkActor(PcapSinkSettings settings, BatchQueue queue, StageCounters counters)
    {
        _settings = settings;
        _queue = queue;
        _counters = counters;
        _writeError = counters.ReasonIndex("write-error");
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(PcapSinkSettings settings, BatchQueue queue, StageCounters counters) =>
        Akka.Actor.Props.Create(() => new PcapSinkActor(settings, queue, counters));

    protected override void PreStart()
    {
        Directory.CreateDirectory(_settings.Directory);
        foreach (var line in PcapFiles.Repair(_settings.Directory, _settings.Prefix))
        {
            _log.Warning("PCAP sink {0}: {1}", _settings.Stage, line);
        }

        var tick = _settings.FlushInterval;
        if (_settings.RotateInterval is { } interval && interval < tick)
        {
            tick = interval;
        }

        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, tick);
        Retention();
    }

    protected override void PostStop() => Close();

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case PacketBatch batch:
                try
                {
                    Write(batch);
                }
                finally
                {
                    batch.Release();
                    _queue.Completed();
                }

                break;
            case Tick:
                OnTick();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Write(PacketBatch batch)
    {
        int count = batch.Count;
        long bytes = batch.TotalBytes();
        _counters.AddIn(count, bytes);
        long outPackets = 0, outBytes = 0;
        try
        {
            for (int i = 0; i < count; i++)
            {
                int length = batch.CapturedLengths[i];
                if (_writer is null || NeedsSizeRotation(length))
                {
                    if (!Rotate())
                    {
                        break;
                    }
                }

                _writer!.Write(batch.Packet(i), batch.Timestamps[i], batch.OriginalLengths[i]);
                outPackets++;
                outBytes += length;
            }
        }
        catch (IOException e)
        {
            Failed(e);
        }

        _counters.AddOut(outPackets, outBytes);
        _counters.AddDropped(_writeError, count - outPackets, bytes - outBytes);
    }

    private bool NeedsSizeRotation(int length) =>
        _settings.RotateSize > 0 && _writer!.RecordCount > 0
        && _writer.Length + PcapWriter.RecordHeaderLength + length > _settings.RotateSize;

    private void OnTick()
    {
        if (_writer is null)
        {
            return;
        }

        try
        {
            if (_settings.RotateInterval is { } interval && DateTime.UtcNow - _opened >= interval)
            {
                if (_writer.RecordCount > 0)
                {
                    Rotate();
                }
                else
                {
                    _opened = DateTime.UtcNow;
                }
            }

            _writer?.Flush();
        }
        catch (IOException e)
        {
            Failed(e);
        }
    }

    /// <summary>Closes the current file and starts a new one; false when that is not possible now.</summary>
    private bool Rotate()
    {
        var now = DateTime.UtcNow;
        if (now < _nextAttempt)
        {
            return false;
        }

        Close();
        try
        {
            _path = PcapFiles.NewPath(_settings.Directory, _settings.Prefix, now);
            _writer = PcapWriter.Create(_path, LinkTypes.Ethernet, PcapWriter.DefaultSnapLength, _settings.Nanoseconds, _settings.WriteBufferBytes);
            _writer.Flush();
            _opened = now;
            _counters.AddEvent(0, 1);
            if (_failureReported)
            {
                _log.Info("PCAP sink {0}: writing again, to {1}", _settings.Stage, _path);
                _failureReported = false;
            }
        }
        catch (IOException e)
        {
            Failed(e);
            return false;
        }
        catch (UnauthorizedAccessException e)
        {
            Failed(new IOException(e.Message, e));
            return false;
        }

        Retention();
        return true;
    }

    private void Retention()
    {
        if (_settings.KeepSize > 0 || _settings.KeepAge is not null)
        {
            int removed = PcapFiles.Enforce(_settings.Directory, _settings.Prefix, _path, _settings.KeepSize, _settings.KeepAge, DateTime.UtcNow);
            _counters.AddEvent(1, removed);
        }
    }

    private void Failed(IOException e)
    {
        if (!_failureReported)
        {
            _log.Error("PCAP sink {0}: {1}; frames are counted as write-error until a new file can be written", _settings.Stage, e.Message);
            _failureReported = true;
        }

        try
        {
            _writer?.Dispose();
        }
        catch (IOException)
        {
            // The file is already broken; the next start trims whatever was torn.
        }

        _writer = null;
        _nextAttempt = DateTime.UtcNow + RetryInterval;
    }

    private void Close()
    {
        if (_writer is null)
        {
            return;
        }

        try
        {
            _writer.Dispose();
        }
        catch (IOException e)
        {
            _log.Error("PCAP sink {0}: closing {1} failed: {2}", _settings.Stage, _path, e.Message);
        }

        _writer = null;
    }

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }
}
