using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Persistence;
using Fabric.Actors.Serialization;
using Xunit;
using Fabric.Actors.Mirrors.Registry;

namespace Fabric.Actors.Tests.Mirrors;

/// <summary>
/// The supervisor while its journal is down (an in-memory journal switched to fail every call,
/// as a database that refuses connections): it keeps answering, keeps repairs and statuses in
/// memory, refuses desired-state changes, and once the journal is back writes what it kept, in
/// order, once. The real database outage (PostgreSQL stopped for 60 s under a running
/// fabric-node) is <c>Fabric.System.Tests.Reliability.DatabaseOutageTests</c>.
/// </summary>
public sealed class MirrorSupervisorJournalOutageTests : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60); // an upper bound: the first journal use (tables, JIT) is slow on a loaded machine
    private readonly Akka.TestKit.TestProbe _agent;

    public MirrorSupervisorJournalOutageTests()
        : base(FabricSerialization.Config.WithFallback(ConfigurationFactory.ParseString($$"""
            akka.loglevel = INFO
            akka.persistence {
              journal {
                plugin = "{{FabricPersistence.JournalPluginId}}"
                sql { class = "{{typeof(SwitchableJournal).AssemblyQualifiedName}}", plugin-dispatcher = "akka.actor.default-dispatcher", circuit-breaker.reset-timeout = 200ms }
              }
              snapshot-store {
                plugin = "{{FabricPersistence.SnapshotPluginId}}"
                sql { class = "Akka.Persistence.Snapshot.MemorySnapshotStore, Akka.Persistence", plugin-dispatcher = "akka.actor.default-dispatcher" }
              }
            }
            """)))
    {
        _agent = CreateTestProbe();
    }

    private static MirrorSettings Settings() => new()
    {
        Sites = [new MirrorSiteSettings("pve-a", MirrorBackendKind.Ovs, null, TimeSpan.FromSeconds(30))],
        Backends = MirrorBackends.Set,
        Mirrors = [Seed()],
        ReportInterval = TimeSpan.FromMinutes(5),
        SnapshotEvery = 10,
        JournalMinBackoff = TimeSpan.FromMilliseconds(50),
        JournalMaxBackoff = TimeSpan.FromMilliseconds(200),
    };

    private static MirrorSessionSpec Seed(string name = "seed-mirror") =>
        new(name, "pve-a", MirrorBackendKind.Ovs, "vmbr1", ["vm:101/net1", "vm:101/net6"], MirrorDirection.Both, "vm:103/net1", null, true);

    private static MirrorRepair Repair(int i) =>
        new("seed-mirror", "pve-a", DateTimeOffset.UtcNow, "event", $"source tap101i1 not selected (outage repair {i})", TimeSpan.FromMilliseconds(3), null);

    private SwitchableJournal.Switch Journal => SwitchableJournal.For(Sys);

    private T Ask<T>(IActorRef actor, object message) => actor.Ask<T>(message, Wait).GetAwaiter().GetResult();

    private MirrorJournalStatus JournalOf(IActorRef supervisor) => Ask<MirrorSessionList>(supervisor, ListMirrorSessions.Instance).Journal!;

    private IActorRef Start(string id) => Sys.ActorOf(MirrorSupervisor.Props(Settings(), (_, _) => _agent.Ref, id));

    [Fact]
    public void Repairs_during_an_outage_are_kept_and_journaled_in_order_once_commands_are_refused_and_nothing_is_unassigned()
    {
        var id = "sup-" + Guid.NewGuid().ToString("N")[..8];
        var supervisor = Start(id);
        var assign = _agent.ExpectMsg<AssignSessions>(Wait);
        Assert.True(Ask<MirrorCommandResult>(supervisor, new DefineMirrorSession(Seed("second"))).Changed);
        var withSecond = _agent.ExpectMsg<AssignSessions>(Wait);
        Assert.Equal(2, withSecond.Sessions.Length);
        var before = PersistenceFailures.Get(Sys).Count(MirrorSupervisor.Name, PersistenceFailures.Persist);

        Journal.Down = true;
        var repairs = Enumerable.Range(0, 30).Select(Repair).ToList();
        supervisor.Tell(new RepairRecorded(repairs[0]), _agent.Ref);
        AwaitAssert(() => Assert.False(JournalOf(supervisor).Available), Wait);
        foreach (var repair in repairs.Skip(1))
        {
            supervisor.Tell(new RepairRecorded(repair), _agent.Ref);
        }

        // The agent repeats its recent repairs in its report: still each once.
        supervisor.Tell(new AgentReport("pve-a", withSecond.Version, true, null, [], [.. repairs.TakeLast(20)]), _agent.Ref);
        supervisor.Tell(new SessionStatusChanged("pve-a", new MirrorSessionStatus("seed-mirror", MirrorHealth.Healthy, null, DateTimeOffset.UtcNow, 30, DateTimeOffset.UtcNow)), _agent.Ref);

        // Visible: status and counters; the state in memory has every repair.
        var journal = JournalOf(supervisor);
        Assert.False(journal.Available);
        Assert.True(journal.Recovered);
        Assert.NotNull(journal.UnavailableSince);
        Assert.Contains("database down (test)", journal.Problem, StringComparison.Ordinal);
        Assert.Equal(31, journal.Pending); // 30 repairs + 1 observed status
        Assert.True(PersistenceFailures.Get(Sys).Count(MirrorSupervisor.Name, PersistenceFailures.Persist) > before);
        Assert.Equal(30, Ask<MirrorSessionDetail>(supervisor, new GetMirrorSession("seed-mirror")).View!.RepairCount);

        // Desired-state changes are refused, not queued: nothing changes, nothing is assigned.
        var define = Ask<MirrorCommandResult>(supervisor, new DefineMirrorSession(Seed("third")));
        Assert.False(define.Ok);
        Assert.True(define.JournalUnavailable);
        Assert.Contains("refused, the supervisor's journal is unavailable", define.Message, StringComparison.Ordinal);
        var remove = Ask<MirrorCommandResult>(supervisor, new RemoveMirrorSession("second"));
        Assert.False(remove.Ok);
        Assert.True(remove.JournalUnavailable);
        Assert.Equal(["second", "seed-mirror"], Ask<MirrorSessionList>(supervisor, ListMirrorSessions.Instance).Sessions.Select(s => s.Spec.Name));

        // The supervisor keeps trying (recovery fails while the journal is down) and assigns nothing meanwhile.
        AwaitAssert(() => Assert.True(PersistenceFailures.Get(Sys).Count(MirrorSupervisor.Name, PersistenceFailures.Recovery) >= 2), Wait);
        _agent.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        Journal.Down = false;
        AwaitAssert(() =>
        {
            var j = JournalOf(supervisor);
            Assert.True(j.Available, $"{j}");
            Assert.Equal(0, j.Pending);
        }, Wait, TimeSpan.FromMilliseconds(50));
        Assert.True(Ask<MirrorCommandResult>(supervisor, new DefineMirrorSession(Seed("third"))).Changed);
        Assert.Equal(3, _agent.ExpectMsg<AssignSessions>(Wait).Sessions.Length);

        // A restarted supervisor reads it all back: every repair once, in the order it happened.
        Watch(supervisor);
        Sys.Stop(supervisor);
        ExpectTerminated(supervisor, Wait);
        var restarted = Start(id);
        Assert.Equal(3, _agent.ExpectMsg<AssignSessions>(Wait).Sessions.Length);
        var history = Ask<MirrorHistory>(restarted, new GetMirrorHistory("seed-mirror", 500)).Entries;
        Assert.Equal(repairs.Select(r => r.Id), history.Where(e => e.Kind == "repair").Select(e => e.Repair!.Id));
        Assert.Equal("observed", history[^1].Kind);
        Assert.Equal(30, Ask<MirrorSessionDetail>(restarted, new GetMirrorSession("seed-mirror")).View!.RepairCount);
        Assert.Equal(assign.Sessions[0], Ask<MirrorSessionDetail>(restarted, new GetMirrorSession("seed-mirror")).View!.Spec);
    }

    [Fact]
    public void A_write_reported_as_failed_that_reached_the_journal_is_not_written_twice()
    {
        var id = "sup-" + Guid.NewGuid().ToString("N")[..8];
        var supervisor = Start(id);
        _agent.ExpectMsg<AssignSessions>(Wait);
        var first = Repair(1);
        var second = Repair(2);

        // The connection breaks after the commit: the event is stored but reported as failed.
        Journal.FailAfterStoringOnce = true;
        supervisor.Tell(new RepairRecorded(first), _agent.Ref);
        AwaitAssert(() => Assert.Equal(1, JournalOf(supervisor).Failures), Wait);
        supervisor.Tell(new RepairRecorded(second), _agent.Ref);
        AwaitAssert(() =>
        {
            var j = JournalOf(supervisor);
            Assert.True(j.Available);
            Assert.Equal(0, j.Pending);
        }, Wait, TimeSpan.FromMilliseconds(50));

        Watch(supervisor);
        Sys.Stop(supervisor);
        ExpectTerminated(supervisor, Wait);
        var restarted = Start(id);
        _agent.ExpectMsg<AssignSessions>(Wait);
        var repairs = Ask<MirrorHistory>(restarted, new GetMirrorHistory("seed-mirror", 50)).Entries.Where(e => e.Kind == "repair").Select(e => e.Repair!.Id);
        Assert.Equal([first.Id, second.Id], repairs);
    }

    [Fact]
    public void A_supervisor_started_while_the_journal_is_down_assigns_nothing_refuses_commands_and_recovers_by_itself()
    {
        var id = "sup-" + Guid.NewGuid().ToString("N")[..8];
        var supervisor = Start(id);
        _agent.ExpectMsg<AssignSessions>(Wait);
        Watch(supervisor);
        Sys.Stop(supervisor);
        ExpectTerminated(supervisor, Wait);

        Journal.Down = true;
        var restarted = Start(id);
        var early = Repair(7);
        restarted.Tell(new RepairRecorded(early), _agent.Ref);
        AwaitAssert(() => Assert.True(PersistenceFailures.Get(Sys).Count(MirrorSupervisor.Name, PersistenceFailures.Recovery) >= 2), Wait);
        var list = Ask<object>(restarted, ListMirrorSessions.Instance);
        var unavailable = Assert.IsType<MirrorSupervisorUnavailable>(list);
        Assert.Contains("has not read its state from the journal yet", unavailable.Reason, StringComparison.Ordinal);
        Assert.Equal(1, unavailable.Journal.Pending);
        var define = Ask<MirrorCommandResult>(restarted, new DefineMirrorSession(Seed("third")));
        Assert.True(define.JournalUnavailable);
        _agent.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // an agent keeps what it holds: no (empty) assignment

        Journal.Down = false;
        Assert.Equal<MirrorSessionSpec>([Seed()], _agent.ExpectMsg<AssignSessions>(Wait).Sessions);
        AwaitAssert(() => Assert.Equal(1, Ask<MirrorSessionDetail>(restarted, new GetMirrorSession("seed-mirror")).View!.RepairCount), Wait);
        AwaitAssert(() => Assert.Equal(0, JournalOf(restarted).Pending), Wait);
    }
}

/// <summary>
/// The in-memory journal with a switch per actor system: <see cref="Switch.Down"/> fails every
/// call (as a database that refuses connections); <see cref="Switch.FailAfterStoringOnce"/>
/// stores the next write and then reports it failed (a connection lost after the commit).
/// </summary>
public sealed class SwitchableJournal : MemoryJournal
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ActorSystem, Switch> Switches = new();
    private readonly Switch _switch;

    public SwitchableJournal()
    {
        _switch = For(Context.System);
    }

    public static Switch For(ActorSystem system) => Switches.GetValue(system, _ => new Switch());

    protected override async Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        if (_switch.Down)
        {
            throw new InvalidOperationException("database down (test)");
        }

        var result = await base.WriteMessagesAsync(messages, cancellationToken);
        if (_switch.FailAfterStoringOnce)
        {
            _switch.FailAfterStoringOnce = false;
            throw new InvalidOperationException("connection lost after the commit (test)");
        }

        return result;
    }

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max, Action<IPersistentRepresentation> recoveryCallback) =>
        _switch.Down ? Task.FromException(new InvalidOperationException("database down (test)")) : base.ReplayMessagesAsync(context, persistenceId, fromSequenceNr, toSequenceNr, max, recoveryCallback);

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken) =>
        _switch.Down ? Task.FromException<long>(new InvalidOperationException("database down (test)")) : base.ReadHighestSequenceNrAsync(persistenceId, fromSequenceNr, cancellationToken);

    public sealed class Switch
    {
        private volatile bool _down;
        private volatile bool _failAfterStoringOnce;

        public bool Down { get => _down; set => _down = value; }

        public bool FailAfterStoringOnce { get => _failAfterStoringOnce; set => _failAfterStoringOnce = value; }
    }
}
