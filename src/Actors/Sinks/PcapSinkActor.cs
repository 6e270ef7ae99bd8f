using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane;
using Fabric.Protocols.Pcap;

namespace Fabric.Actors.Sinks;

/// <summary>
/// Writes inner frames to rotating PCAP files <c>&lt;dir&gt;/&lt;pipeline&gt;-&lt;UTC timestamp&gt;.pcap</c> (or
/// <c>.pcapng</c> with <c>format = pcapng</c>: one interface per source id, named after its mirror session,
/// epb_flags direction from ERSPAN III, optionally the switch's timestamps):
/// a new file when the current one would exceed the rotation size or is older than the rotation interval;
/// old files removed (oldest first, never the current one) while the sink's files exceed the kept size or are
/// older than the kept age. Records go through a large write buffer that only holds whole records, flushed on a
/// timer; on start, files torn by a crash are trimmed to their last whole record. Actor name: <c>sink-N</c>.
/// <para>
/// When a write fails (disk full, I/O error) the sink <em>stalls</em>: the file is cut back to its last whole
/// record, the records already in the write buffer are kept, and every frame that arrives meanwhile is dropped
/// and counted ("disk-full" for ENOSPC/EDQUOT, "write-error" otherwise). Every 250 ms it tries again; when the
/// buffer can be written, it goes on in the same file. Logged once when it stalls and once when it resumes.
/// </para>
/// </summary>
public sealed class PcapSinkActor : BatchStageActor, IWithTimers
{
    public static readonly IReadOnlyList<string> DropReasons = ["queue-full", "disk-full", "write-error"];

    /// <summary>Event counters: files started, files removed by retention, times writing stalled on an error.</summary>
    public static readonly IReadOnlyList<string> EventNames = ["files-created", "files-removed", "stalls"];

    /// <summary>How often a stalled sink tries to write again.</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(250);

    private const int ENOSPC = 28;
    private const int EDQUOT = 122;
    private const int NotStalled = -1;

    private readonly PcapSinkSettings _settings;
    private readonly string _directory;
    private readonly int _diskFull;
    private readonly int _writeError;
    private readonly int _filesCreated;
    private readonly int _filesRemoved;
    private readonly int _stalls;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private ICaptureFileWriter? _writer;

    /// <summary>The same writer when the format is pcapng.</summary>
    private PcapNgWriter? _ng;

    /// <summary>pcapng: the current file's interface index of each source id, -1 before its first frame.</summary>
    private readonly int[] _interfaceOf = new int[Fabric.Protocols.Decap.SourceTable.Limit + 1];
    private string? _path;
    private DateTime _opened;
    private DateTime _nextAttempt;

    /// <summary>The drop reason while stalled, or <see cref="NotStalled"/>.</summary>
    private int _stalled = NotStalled;

    public PcapSinkActor(PcapSinkSettings settings, BatchQueue queue, StageCounters counters)
        : base(queue, counters, settings.Cpu, nice: settings.Nice)
    {
        _settings = settings;
        // Normalised, so retention recognises the current file whatever the configured spelling ("/a//b/").
        _directory = Path.GetFullPath(settings.Directory);
        _diskFull = counters.ReasonIndex("disk-full");
        _writeError = counters.ReasonIndex("write-error");
        _filesCreated = counters.EventIndex("files-created");
        _filesRemoved = counters.EventIndex("files-removed");
        _stalls = counters.EventIndex("stalls");
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(PcapSinkSettings settings, BatchQueue queue, StageCounters counters) =>
        Akka.Actor.Props.Create(() => new PcapSinkActor(settings, queue, counters));

    /// <summary>True when the exception is the file system saying it has no room (ENOSPC, EDQUOT).</summary>
    public static bool IsDiskFull(Exception e) => e is IOException { HResult: ENOSPC or EDQUOT };

    protected override void PreStart()
    {
        base.PreStart();
        Directory.CreateDirectory(_directory);
        foreach (var line in PcapFiles.Repair(_directory, _settings.Prefix, _settings.Extension))
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

    protected override void OnControl(object message)
    {
        switch (message)
        {
            case Tick:
                OnTick();
                break;
            case Retry:
                // Retried without waiting for traffic, so a quiet pipeline also writes out what it holds.
                if (_stalled != NotStalled && !TryResume())
                {
                    Timers.StartSingleTimer(Retry.Instance, Retry.Instance, RetryInterval);
                }

                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>Writes the batch's frames to the current file (rotating as needed), or drops them while stalled.</summary>
    protected override void Process(PacketBatch batch, int count, long bytes)
    {
        if (_stalled != NotStalled && !TryResume())
        {
            Counters.AddDropped(_stalled, count, bytes);
            return;
        }

        long outPackets = 0, outBytes = 0;
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

            try
            {
                if (_ng is null)
                {
                    ((PcapWriter)_writer!).Write(batch.Packet(i), batch.Timestamps[i], batch.OriginalLengths[i]);
                }
                else
                {
                    WritePcapNg(batch, i);
                }
            }
            catch (IOException e)
            {
                Stall(e);
                break;
            }

            outPackets++;
            outBytes += length;
        }

        Counters.AddOut(outPackets, outBytes);
        Counters.AddDropped(_stalled == NotStalled ? _writeError : _stalled, count - outPackets, bytes - outBytes);
    }

    private bool NeedsSizeRotation(int length) =>
        _settings.RotateSize > 0 && _writer!.RecordCount > 0
        && _writer.Length + _writer.MaxRecordOverhead + length > _settings.RotateSize;

    /// <summary>One frame as an Enhanced Packet Block on its source's interface (described the first time the
    /// source appears in this file), with its direction and, with <c>timestamps = switch</c>, the switch's time.</summary>
    private void WritePcapNg(PacketBatch batch, int i)
    {
        var sources = batch.Sources;
        int id = sources is null ? 0 : batch.SourceIds[i];
        int index = _interfaceOf[id];
        if (index < 0)
        {
            var info = sources?[id];
            index = _ng!.AddInterface(LinkTypes.Ethernet, info?.Name ?? "other", info?.Description);
            _interfaceOf[id] = index;
        }

        long time = batch.Timestamps[i];
        if (_settings.SwitchTimestamps && batch.SwitchTimestamps[i] != 0)
        {
            time = batch.SwitchTimestamps[i];
        }

        _ng!.Write(batch.Packet(i), index, time, batch.OriginalLengths[i], batch.Directions[i]);
    }

    private void OnTick()
    {
        if (_stalled != NotStalled)
        {
            return;
        }

        if (_writer is null)
        {
            return;
        }

        if (_settings.RotateInterval is { } interval && DateTime.UtcNow - _opened >= interval)
        {
            if (_writer.RecordCount > 0)
            {
                if (!Rotate())
                {
                    return;
                }
            }
            else
            {
                _opened = DateTime.UtcNow;
            }
        }

        try
        {
            _writer?.Flush();
        }
        catch (IOException e)
        {
            Stall(e);
        }
    }

    /// <summary>A stalled sink tries again (at most once per <see cref="RetryInterval"/>): it writes out what its
    /// buffer holds, or starts a file when it has none. True when it is writing again.</summary>
    private bool TryResume()
    {
        if (DateTime.UtcNow < _nextAttempt)
        {
            return false;
        }

        if (_writer is null)
        {
            if (!Open())
            {
                return false;
            }
        }
        else
        {
            try
            {
                _writer.Flush();
            }
            catch (IOException e)
            {
                Stall(e);
                return false;
            }
        }

        _log.Info("PCAP sink {0}: writing again, to {1}", _settings.Stage, _path);
        _stalled = NotStalled;
        return true;
    }

    /// <summary>Closes the current file (after writing out its buffer) and starts a new one; false (stalled)
    /// when either is not possible now. A file whose buffer cannot be written stays the current one.</summary>
    private bool Rotate()
    {
        if (_writer is not null)
        {
            try
            {
                _writer.Flush();
            }
            catch (IOException e)
            {
                Stall(e);
                return false;
            }

            Close();
        }

        return Open();
    }

    /// <summary>Starts a new file with its header on disk; on failure removes what it created and stalls.</summary>
    private bool Open()
    {
        var now = DateTime.UtcNow;
        string path = PcapFiles.NewPath(_directory, _settings.Prefix, now, _settings.Extension);
        ICaptureFileWriter? writer = null;
        try
        {
            writer = _settings.Format == PcapFormat.PcapNg
                ? PcapNgWriter.Create(path, _settings.Nanoseconds, _settings.WriteBufferBytes)
                : PcapWriter.Create(path, LinkTypes.Ethernet, PcapWriter.DefaultSnapLength, _settings.Nanoseconds, _settings.WriteBufferBytes);
            writer.Flush();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Abandon(writer, path);
            Stall(e);
            return false;
        }

        _writer = writer;
        _ng = writer as PcapNgWriter;
        Array.Fill(_interfaceOf, -1);
        _path = path;
        _opened = now;
        Counters.AddEvent(_filesCreated, 1);
        Retention();
        return true;
    }

    /// <summary>A new file whose header could not be written is removed: no reader ever meets an empty file.</summary>
    private static void Abandon(ICaptureFileWriter? writer, string path)
    {
        try
        {
            writer?.Dispose();
        }
        catch (IOException)
        {
            // Its header could not be written; the file goes below.
        }

        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind without a whole header: the next start removes it (PcapFiles.Repair).
        }
    }

    private void Retention()
    {
        if (_settings.KeepSize > 0 || _settings.KeepAge is not null)
        {
            int removed = PcapFiles.Enforce(_directory, _settings.Prefix, _path, _settings.KeepSize, _settings.KeepAge, DateTime.UtcNow, _settings.Extension);
            Counters.AddEvent(_filesRemoved, removed);
        }
    }

    private void Stall(Exception e)
    {
        int reason = IsDiskFull(e) ? _diskFull : _writeError;
        if (_stalled == NotStalled)
        {
            _log.Error("PCAP sink {0}: {1}; frames are counted as {2} until it can write again (retried every {3})",
                _settings.Stage, e.Message, Counters.Reasons[reason], RetryInterval);
            Counters.AddEvent(_stalls, 1);
        }

        _stalled = reason;
        _nextAttempt = DateTime.UtcNow + RetryInterval;
        Timers.StartSingleTimer(Retry.Instance, Retry.Instance, RetryInterval);
    }

    /// <summary>Closes the current file. Records still in a buffer that cannot be written (the sink stops while
    /// the disk is still full) are lost: they were counted as out and are moved to the stall's drop reason, so
    /// the stage's counters stay exact.</summary>
    private void Close()
    {
        if (_writer is null)
        {
            return;
        }

        int held = _writer.BufferedRecords;
        long heldBytes = _writer.BufferedFrameBytes;
        try
        {
            _writer.Dispose();
        }
        catch (IOException e)
        {
            int reason = IsDiskFull(e) ? _diskFull : _writeError;
            _log.Error("PCAP sink {0}: closing {1} failed: {2}; its last {3} buffered records are lost (counted as {4})",
                _settings.Stage, _path, e.Message, held, Counters.Reasons[reason]);
            Counters.AddOut(-held, -heldBytes);
            Counters.AddDropped(reason, held, heldBytes);
        }

        _writer = null;
        _ng = null;
    }

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    private sealed class Retry
    {
        public static readonly Retry Instance = new();
    }
}
