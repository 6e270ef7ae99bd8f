using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Fabric.Actors.Persistence;

namespace Fabric.Actors.Mirrors;

/// <summary>
/// The mirror supervisor's journal (child <c>journal</c> of <see cref="MirrorSupervisor"/>): the
/// persistent actor of the supervisor's persistence id. It recovers the state (snapshot + events)
/// and hands it to the supervisor, then writes the events the supervisor sends, in order,
/// acknowledging each with its sequence number, and saves a snapshot every
/// <c>snapshot-every</c> events. Akka.Persistence stops a persistent actor whose write or recovery
/// failed; it tells the supervisor why first, and the supervisor starts a new one after a backoff
/// (the events not acknowledged stay in the supervisor's <see cref="JournalOutbox"/> and are sent again).
/// </summary>
internal sealed class MirrorJournal : ReceivePersistentActor
{
    /// <summary>Name under the supervisor; counted as <c>actor="mirror-supervisor"</c> in <c>fabric_persistence_failures_total</c>.</summary>
    public const string Name = "journal";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly MirrorSettings _settings;
    private readonly IActorRef _owner;
    private readonly long _tailAfter;
    private readonly List<(long SequenceNr, object Event)> _tail = [];
    private readonly Queue<long> _tokens = new();
    private MirrorSupervisorState _state;
    private long _eventsSinceSnapshot;

    public MirrorJournal(string persistenceId, MirrorSettings settings, IActorRef owner, long tailAfter)
    {
        PersistenceId = persistenceId;
        JournalPluginId = FabricPersistence.JournalPluginId;
        SnapshotPluginId = FabricPersistence.SnapshotPluginId;
        _settings = settings;
        _owner = owner;
        _tailAfter = tailAfter;
        _state = new MirrorSupervisorState(settings.HistoryPerSession);

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is MirrorSupervisorSnapshot snapshot)
            {
                _state = MirrorSupervisorState.From(snapshot, _settings.HistoryPerSession);
            }
        });
        Recover<MirrorSessionDefined>(Replay);
        Recover<MirrorSessionRemoved>(Replay);
        Recover<MirrorRepairLogged>(Replay);
        Recover<MirrorSessionObserved>(Replay);
        Recover<RecoveryCompleted>(_ => _owner.Tell(new JournalRecovered(_state.ToSnapshot(), LastSequenceNr, [.. _tail])));

        Command<JournalWrite>(HandleWrite);
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f =>
        {
            PersistenceFailures.Get(Context.System).Record(MirrorSupervisor.Name, PersistenceFailures.Snapshot);
            _log.Warning(f.Cause, "Mirror supervisor: snapshot failed (recovery starts from an older snapshot and replays more events)");
        });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning(f.Cause, "Mirror supervisor: deleting older snapshots failed"));
    }

    public override string PersistenceId { get; }

    public static Props Props(string persistenceId, MirrorSettings settings, IActorRef owner, long tailAfter) =>
        Akka.Actor.Props.Create(() => new MirrorJournal(persistenceId, settings, owner, tailAfter));

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        PersistenceFailures.Get(Context.System).Record(MirrorSupervisor.Name, PersistenceFailures.Persist);
        _owner.Tell(new JournalFailed("write failed: " + Describe(cause)));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        PersistenceFailures.Get(Context.System).Record(MirrorSupervisor.Name, PersistenceFailures.Rejected);
        _owner.Tell(new JournalRejected(_tokens.Dequeue(), Describe(cause)));
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        PersistenceFailures.Get(Context.System).Record(MirrorSupervisor.Name, PersistenceFailures.Recovery);
        _owner.Tell(new JournalFailed("recovery failed: " + Describe(reason)));
        base.OnRecoveryFailure(reason, message);
    }

    private void Replay(object e)
    {
        _state.Apply(e, LastSequenceNr);
        if (LastSequenceNr > _tailAfter)
        {
            _tail.Add((LastSequenceNr, e));
        }
    }

    private void HandleWrite(JournalWrite write)
    {
        foreach (var (token, _) in write.Events)
        {
            _tokens.Enqueue(token);
        }

        PersistAll(write.Events.Select(e => e.Event), e =>
        {
            _state.Apply(e, LastSequenceNr);
            _owner.Tell(new JournalWritten(_tokens.Dequeue(), LastSequenceNr));
            if (++_eventsSinceSnapshot >= _settings.SnapshotEvery)
            {
                _eventsSinceSnapshot = 0;
                SaveSnapshot(_state.ToSnapshot());
            }
        });
    }

    private static string Describe(Exception e)
    {
        var inner = e.GetBaseException();
        return inner == e ? $"{e.GetType().Name}: {e.Message}" : $"{e.GetType().Name}: {e.Message} ({inner.GetType().Name}: {inner.Message})";
    }
}

/// <summary>Supervisor → journal: write these events in this order (tokens identify them in the answers).</summary>
internal sealed record JournalWrite(ImmutableArray<(long Token, object Event)> Events);

/// <summary>Journal → supervisor: the event of <paramref name="Token"/> is in the journal at <paramref name="SequenceNr"/>.</summary>
internal sealed record JournalWritten(long Token, long SequenceNr);

/// <summary>Journal → supervisor: the journal refused the event of <paramref name="Token"/> (it cannot be written, e.g. not serialisable).</summary>
internal sealed record JournalRejected(long Token, string Problem);

/// <summary>Journal → supervisor, just before it stops: why.</summary>
internal sealed record JournalFailed(string Problem);

/// <summary>
/// Journal → supervisor: recovered. <paramref name="State"/> as of <paramref name="LastSequenceNr"/>;
/// <paramref name="Tail"/>: the events after the sequence number the supervisor last had acknowledged
/// (a write reported as failed may still have reached the database).
/// </summary>
internal sealed record JournalRecovered(MirrorSupervisorSnapshot State, long LastSequenceNr, ImmutableArray<(long SequenceNr, object Event)> Tail);
