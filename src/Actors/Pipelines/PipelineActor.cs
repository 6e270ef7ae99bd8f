using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Capture;
using Fabric.Actors.DataPlane;
using Fabric.Actors.Decap;

namespace Fabric.Actors.Pipelines;

/// <summary>
/// One running pipeline: creates its sinks, then the decap stage, then the capture actor (so nothing is
/// posted to a stage that does not exist yet), and stops as a whole when any stage fails. Actor name:
/// <c>pipeline-&lt;name&gt;</c> under <c>/user/pipelines</c>.
/// </summary>
public sealed class PipelineActor : UntypedActor
{
    /// <summary>Dispatcher id for stages on a thread of their own (<see cref="StageDispatcher"/>).</summary>
    public const string PinnedDispatcherId = StageDispatcher.PinnedDispatcherId;

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
            port.Queue.Target = Context.Watch(Context.ActorOf(StageDispatcher.OnOwnThreadIfNeeded(Context.System, props, settings.Sinks[i].Cpu, settings.Sinks[i].Nice), $"sink-{i}"));
        }

        var decapProps = DecapActor.Props(settings.Decap, _runtime.DecapQueue, _runtime.Decap, _runtime.Sinks, _runtime.Vnis, _runtime.Sources);
        _runtime.DecapQueue.Target = Context.Watch(Context.ActorOf(StageDispatcher.OnOwnThreadIfNeeded(Context.System, decapProps, settings.Decap.Cpu, settings.Decap.Nice), "decap"));
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
}

/// <summary>Sent by a pipeline to its manager when a stage failed.</summary>
internal sealed record PipelineFailed(string Name, string Reason);
