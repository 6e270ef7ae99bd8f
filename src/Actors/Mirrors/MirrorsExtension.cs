using Akka.Actor;

namespace Fabric.Actors.Mirrors;

/// <summary>Where the management routes find the supervisor proxy and the mirror metrics of this node.</summary>
public sealed class MirrorsExtension : IExtension
{
    private IActorRef? _supervisor;
    private int _supervisorsRunning;

    public static MirrorsExtension Get(ActorSystem system) => system.WithExtension<MirrorsExtension, MirrorsExtensionProvider>();

    /// <summary>The supervisor singleton proxy, or null when the mirrors feature did not start.</summary>
    public IActorRef? Supervisor => _supervisor;

    public MirrorMetrics? Metrics { get; private set; }

    public MirrorSettings? Settings { get; private set; }

    /// <summary>True while the supervisor singleton's actor itself runs on this node (from its start to its stop).</summary>
    public bool SupervisorRunning => Volatile.Read(ref _supervisorsRunning) > 0;

    internal void SupervisorStarted() => Interlocked.Increment(ref _supervisorsRunning);

    internal void SupervisorStopped() => Interlocked.Decrement(ref _supervisorsRunning);

    internal void Initialize(IActorRef supervisor, MirrorMetrics metrics, MirrorSettings settings)
    {
        _supervisor = supervisor;
        Metrics = metrics;
        Settings = settings;
    }
}

public sealed class MirrorsExtensionProvider : ExtensionIdProvider<MirrorsExtension>
{
    public override MirrorsExtension CreateExtension(ExtendedActorSystem system) => new();
}
