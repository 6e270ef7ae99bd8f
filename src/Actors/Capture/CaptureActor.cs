using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane;

namespace Fabric.Actors.Capture;

/// <summary>
/// One per interface (or capture file). Owns a dedicated OS thread, pinned to the configured CPU, that runs
/// <see cref="CaptureLoop"/>; the actor only starts and stops it. Actor name: <c>capture</c> under its pipeline.
/// </summary>
public sealed class CaptureActor : UntypedActor
{
    private readonly CaptureSettings _settings;
    private readonly CaptureLoop? _loop;
    private readonly StreamSource? _stream;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private Thread? _thread;

    public CaptureActor(CaptureSettings settings, PacketBatchPool pool, BatchQueue downstream, StageCounters counters,
        CaptureStatus status)
    {
        _settings = settings;
        if (settings.Stream is not null)
        {
            _stream = new StreamSource(settings, pool, downstream, counters, status, _log);
        }
        else
        {
            _loop = new CaptureLoop(settings, pool, downstream, counters, status, _log);
        }
    }

    public static Props Props(CaptureSettings settings, PacketBatchPool pool, BatchQueue downstream,
        StageCounters counters, CaptureStatus status) =>
        Akka.Actor.Props.Create(() => new CaptureActor(settings, pool, downstream, counters, status));

    protected override void PreStart()
    {
        if (_settings.Cpu is int cpu)
        {
            if (!CpuAffinity.Exists(cpu))
            {
                throw new ArgumentOutOfRangeException(nameof(CaptureSettings.Cpu), cpu, $"CPU {cpu} does not exist on this machine.");
            }

            if (!CpuAffinity.Isolated().Contains(cpu))
            {
                _log.Warning("Capture CPU {0} for {1} is not isolated (isolcpus=); other work will share it", cpu, _settings.SourceName);
            }
        }

        // Thread.Priority is not applied on Linux: the pipeline's nice (setpriority on the thread) is.
        ThreadStart body = _stream is not null ? _stream.Run : _loop!.Run;
        var nice = _settings.Nice;
        var log = _log;
        _thread = new Thread(() =>
        {
            nice?.ApplyToCurrentThread(log, "capture");
            body();
        })
        {
            IsBackground = true,
            Name = $"capture-{_settings.SourceName}",
        };
        _thread.Start();
    }

    protected override void PostStop()
    {
        _loop?.Stop();
        _stream?.Stop();
        _thread?.Join(TimeSpan.FromSeconds(5));
    }

    protected override void OnReceive(object message) => Unhandled(message);
}
