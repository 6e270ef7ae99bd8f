using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Fabric.Actors.Capture;
using Fabric.Actors.Decap;

namespace Fabric.Actors.Pipelines;

/// <summary>
/// One running pipeline: creates its sinks, then the decap stage, then the capture actor (so nothing is
/// posted to a stage that does not exist yet), and stops as a whole when any stage fails. Actor name:
/// <c>pipeline-&lt;name&gt;</c> under <c>/user/pipelines</c>.
/// </summary>
public sealed class PipelineActor : UntypedActor
{
    /// <summary>Dispatcher id for stages pinned to a CPU (one dedicated thread per actor).</summary>
    public const string PinnedDispatcherId = "fabric-pinned-dispatcher";

    private readonly PipelineRuntime _runtime;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public PipelineActor(PipelineRuntime runtime) => _runtime = runtime;

    public static Props Props(PipelineRuntime runtime) => Akka.Actor.Props.Create(() => new PipelineActor(runtime));

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(e =>
        {
            _log.Error(e, "Pipeline {0}: a stage failed: {1}", _runtime.Settings.Name, e.Message);
            Context.Parent.Tell(new PipelineFailed(_runtime.Settings.Name, e.Message));
            return Directive.Stop;
        });

    protected override void PreStart()
    {
        var settings = _runtime.Settings;
        for (int i = 0; i < settings.Sinks.Count; i++)
        {
            var port = _runtime.Sinks[i];
            var props = settings.Sinks[i].CreateProps(port.Queue, port.Counters);
            port.Queue.Target = Context.Watch(Context.ActorOf(OnOwnThreadIfPinned(props, settings.Sinks[i].Cpu), $"sink-{i}"));
        }

        var decapProps = DecapActor.Props(settings.Decap, _runtime.DecapQueue, _runtime.Decap, _runtime.Sinks, _runtime.Vnis, _runtime.Sources);
        _runtime.DecapQueue.Target = Context.Watch(Context.ActorOf(OnOwnThreadIfPinned(decapProps, settings.Decap.Cpu), "decap"));
        Context.Watch(Context.ActorOf(
            CaptureActor.Props(settings.Source, _runtime.Pool, _runtime.DecapQueue, _runtime.Capture, _runtime.CaptureStatus),
            "capture"));
    }

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Terminated terminated:
                _log.Error("Pipeline {0}: stage {1} stopped; stopping the pipeline", _runtime.Settings.Name, terminated.ActorRef.Path.Name);
                Context.Stop(Self);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    /// <summary>A stage with a <c>cpu</c> runs on a dedicated thread (the pinned dispatcher), which the stage
    /// pins in its PreStart; one without runs on the shared dispatcher.</summary>
    private static Props OnOwnThreadIfPinned(Props props, int? cpu)
    {
        if (cpu is null)
        {
            return props;
        }

        EnsurePinnedDispatcher(Context.System);
        return props.WithDispatcher(PinnedDispatcherId);
    }

    private static void EnsurePinnedDispatcher(ActorSystem system)
    {
        if (system.Dispatchers.HasDispatcher(PinnedDispatcherId))
        {
            return;
        }

        system.Settings.InjectTopLevelFallback(ConfigurationFactory.ParseString($"{PinnedDispatcherId} {{ type = PinnedDispatcher }}"));
    }
}

/// <summary>Sent by a pipeline to its manager when a stage failed.</summary>
internal sealed record PipelineFailed(string Name, string Reason);
