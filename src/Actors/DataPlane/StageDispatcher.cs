using Akka.Actor;
using Akka.Configuration;

namespace Fabric.Actors.DataPlane;

/// <summary>Where a data-plane stage (decap, a sink, a balance member) runs: a stage with a <c>cpu</c> or a
/// <c>nice</c> gets a dedicated thread (Akka's PinnedDispatcher, one thread per actor), which the stage pins and
/// renices in its PreStart; a thread of the shared pool cannot be pinned or reniced, since it runs every other
/// actor too. A stage with neither runs on the shared dispatcher.</summary>
public static class StageDispatcher
{
    /// <summary>Dispatcher id for stages on a thread of their own.</summary>
    public const string PinnedDispatcherId = "fabric-pinned-dispatcher";

    public static Props OnOwnThreadIfNeeded(ActorSystem system, Props props, int? cpu, ThreadNice? nice)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(props);
        if (cpu is null && nice is null)
        {
            return props;
        }

        if (!system.Dispatchers.HasDispatcher(PinnedDispatcherId))
        {
            system.Settings.InjectTopLevelFallback(ConfigurationFactory.ParseString($"{PinnedDispatcherId} {{ type = PinnedDispatcher }}"));
        }

        return props.WithDispatcher(PinnedDispatcherId);
    }
}
