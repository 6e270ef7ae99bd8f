using Akka.Actor;
using Akka.Event;
using Akka.Persistence;

namespace Fabric.Actors.Persistence;

/// <summary>
/// Remembers every start of this node (count, first and last start, version) in the journal.
/// fabric-node asks it to record the start while starting up, which also warms the journal and
/// snapshot store (tables created, connections opened) before the node reports ready; the
/// history is served at <c>GET /node</c> and as <c>fabric_node_starts_total</c>.
/// Actor name <c>node-history</c> (top level, addressed as <c>/user/node-history</c>).
/// </summary>
public sealed class NodeHistoryActor : ReceivePersistentActor
{
    /// <summary>The actor's name under <c>/user</c>.</summary>
    public const string Name = "node-history";

    private const int SnapshotEvery = 100;

    private NodeHistory _history = NodeHistory.Empty;

    public NodeHistoryActor(string persistenceId)
    {
        PersistenceId = persistenceId;
        JournalPluginId = FabricPersistence.JournalPluginId;
        SnapshotPluginId = FabricPersistence.SnapshotPluginId;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is NodeHistory history)
            {
                _history = history;
            }
        });
        Recover<NodeStarted>(started => _history = _history.Apply(started));

        Command<RecordNodeStart>(HandleRecordStart);
        Command<GetNodeHistory>(_ => Sender.Tell(_history));
        Command<SaveSnapshotSuccess>(success =>
            DeleteMessages(success.Metadata.SequenceNr));
        Command<SaveSnapshotFailure>(failure =>
            Context.GetLogger().Warning(failure.Cause, "Could not save the node history snapshot"));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(failure =>
            Context.GetLogger().Warning(failure.Cause, "Could not delete node history events up to the snapshot"));
    }

    public override string PersistenceId { get; }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        PersistenceFailures.Get(Context.System).Record(Name, PersistenceFailures.Persist);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        PersistenceFailures.Get(Context.System).Record(Name, PersistenceFailures.Rejected);
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        PersistenceFailures.Get(Context.System).Record(Name, PersistenceFailures.Recovery);
        base.OnRecoveryFailure(reason, message);
    }

    /// <summary>Props for the node with remoting address <paramref name="hostAndPort"/> (the persistence id is derived from it).</summary>
    public static Props Props(string hostAndPort) =>
        Akka.Actor.Props.Create(() => new NodeHistoryActor("fabric-node-history-" + hostAndPort));

    private void HandleRecordStart(RecordNodeStart command)
    {
        var replyTo = Sender;
        Persist(new NodeStarted(command.At, command.Version), started =>
        {
            _history = _history.Apply(started);
            if (LastSequenceNr % SnapshotEvery == 0)
            {
                SaveSnapshot(_history);
            }

            replyTo.Tell(_history);
        });
    }
}
