using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Sql;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Serialization;
using Xunit;
using Fabric.Actors.Mirrors.Registry;

namespace Fabric.Actors.Tests.Mirrors;

/// <summary>The supervisor on the real Akka.Persistence.Sql journal (SQLite in a temp file), events through Fabric's Hyperion binding.</summary>
public sealed class MirrorSupervisorTests : TestKit, IClassFixture<MirrorSupervisorTests.TempDatabase>
{
    private static readonly string DbFile = Path.Combine(Path.GetTempPath(), "fm-supervisor-" + Guid.NewGuid().ToString("N")[..8] + ".db");

    /// <summary>Deletes the SQLite file after the class's tests.</summary>
    public sealed class TempDatabase : IDisposable
    {
        public void Dispose()
        {
            foreach (var file in new[] { DbFile, DbFile + "-wal", DbFile + "-shm" })
            {
                File.Delete(file);
            }
        }
    }
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60); // an upper bound: the first journal use (tables, JIT) is slow on a loaded machine
    private readonly TestProbe _agent;

    public MirrorSupervisorTests(TempDatabase database)
        : base(Configure())
    {
        _ = database;
        _agent = CreateTestProbe();
    }

    private static Config Configure() =>
        FabricSerialization.Config
            .WithFallback(ConfigurationFactory.ParseString($$"""
                akka.loglevel = INFO
                akka.persistence {
                  journal { plugin = "akka.persistence.journal.sql", sql { connection-string = "Data Source={{DbFile}}", provider-name = "SQLite.MS", table-mapping = sqlite, auto-initialize = on } }
                  snapshot-store { plugin = "akka.persistence.snapshot-store.sql", sql { connection-string = "Data Source={{DbFile}}", provider-name = "SQLite.MS", table-mapping = sqlite, auto-initialize = on } }
                }
                """))
            .WithFallback(SqlPersistence.DefaultConfiguration);

    private static MirrorSettings Settings(params MirrorSessionSpec[] declared) => new()
    {
        Sites = [new MirrorSiteSettings("pve-a", MirrorBackendKind.Ovs, null, TimeSpan.FromSeconds(30))],
        Backends = MirrorBackends.Set,
        Mirrors = [.. declared],
        ReportInterval = TimeSpan.FromMinutes(5),
        SnapshotEvery = 10,
    };

    private static MirrorSessionSpec Seed(string name = "seed-mirror") =>
        new(name, "pve-a", MirrorBackendKind.Ovs, "vmbr1", ["vm:101/net1", "vm:101/net6"], MirrorDirection.Both, "vm:103/net1", null, true);

    private IActorRef StartSupervisor(string id, MirrorSettings settings) =>
        Sys.ActorOf(MirrorSupervisor.Props(settings, (_, _) => _agent.Ref, id));

    private T Ask<T>(IActorRef actor, object message) => actor.Ask<T>(message, Wait).GetAwaiter().GetResult();

    /// <summary>Stops the supervisor once the journal has taken every event (queries answer from memory before that).</summary>
    private void Stop(IActorRef actor)
    {
        AwaitAssert(() => Assert.Equal(0, Ask<MirrorSessionList>(actor, ListMirrorSessions.Instance).Journal!.Pending), Wait);
        Watch(actor);
        Sys.Stop(actor);
        ExpectTerminated(actor, Wait);
    }

    [Fact]
    public void Declared_sessions_are_merged_assigned_and_survive_a_restart()
    {
        var id = "sup-" + Guid.NewGuid().ToString("N")[..8];
        var supervisor = StartSupervisor(id, Settings(Seed()));
        var assign = _agent.ExpectMsg<AssignSessions>(Wait);
        Assert.Equal("pve-a", assign.Site);
        Assert.Equal<MirrorSessionSpec>([Seed()], assign.Sessions);

        // Idempotent: the same spec again changes nothing and sends nothing.
        var again = Ask<MirrorCommandResult>(supervisor, new DefineMirrorSession(Seed()));
        Assert.True(again.Ok);
        Assert.False(again.Changed);
        _agent.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // A console-defined session, a repair and a status from the agent.
        var added = Ask<MirrorCommandResult>(supervisor, new DefineMirrorSession(Seed("second") with { Direction = MirrorDirection.Ingress }));
        Assert.True(added.Changed);
        var reassign = _agent.ExpectMsg<AssignSessions>(Wait);
        Assert.True(reassign.Version > assign.Version);
        Assert.Equal(2, reassign.Sessions.Length);
        var repair = new MirrorRepair("seed-mirror", "pve-a", DateTimeOffset.UtcNow, "event", "source tap101i1 not selected (ingress)", TimeSpan.FromMilliseconds(12), null);
        supervisor.Tell(new RepairRecorded(repair), _agent.Ref);
        supervisor.Tell(new SessionStatusChanged("pve-a", new MirrorSessionStatus("seed-mirror", MirrorHealth.Healthy, null, DateTimeOffset.UtcNow, 1, DateTimeOffset.UtcNow)), _agent.Ref);
        AwaitAssert(() => Assert.Equal(MirrorHealth.Healthy, Ask<MirrorSessionDetail>(supervisor, new GetMirrorSession("seed-mirror")).View!.Status.Health), Wait);

        Stop(supervisor);
        var restarted = StartSupervisor(id, Settings(Seed()));
        var recovered = _agent.ExpectMsg<AssignSessions>(Wait);
        Assert.Equal(reassign.Version, recovered.Version);
        Assert.Equal<MirrorSessionSpec>(reassign.Sessions, recovered.Sessions);
        var list = Ask<MirrorSessionList>(restarted, ListMirrorSessions.Instance);
        Assert.Equal(["second", "seed-mirror"], list.Sessions.Select(s => s.Spec.Name));
        var seed = list.Sessions.Single(s => s.Spec.Name == "seed-mirror");
        Assert.Equal(1, seed.RepairCount);
        Assert.Equal(repair, seed.LastRepair);
        var history = Ask<MirrorHistory>(restarted, new GetMirrorHistory("seed-mirror", 50));
        Assert.Equal(["defined", "repair", "observed"], history.Entries.Select(e => e.Kind));
        Assert.Contains("source tap101i1 not selected", history.Entries[1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public void State_comes_back_from_a_snapshot_and_the_later_events()
    {
        var id = "sup-" + Guid.NewGuid().ToString("N")[..8];
        var supervisor = StartSupervisor(id, Settings(Seed()));
        _agent.ExpectMsg<AssignSessions>(Wait);

        // 25 distinct repairs detected at the same instant: DateTimeOffset.UtcNow read in a tight loop
        // returns equal ticks once the JIT has warmed up, which is what made this test flaky when the
        // supervisor still recognised a repair by (session, detected-at, trigger).
        var at = DateTimeOffset.UtcNow;
        var repairs = Enumerable.Range(0, 25).Select(i => new MirrorRepair("seed-mirror", "pve-a", at, "event", $"repair {i}", TimeSpan.FromMilliseconds(i), null)).ToList();
        foreach (var repair in repairs)
        {
            supervisor.Tell(new RepairRecorded(repair), _agent.Ref);
        }

        AwaitAssert(() => Assert.Equal(25, Ask<MirrorSessionDetail>(supervisor, new GetMirrorSession("seed-mirror")).View!.RepairCount), Wait);
        AwaitAssert(() => Assert.True(SnapshotCount(id) > 0), Wait);
        Stop(supervisor);

        // SnapshotEvery = 10: the state is rebuilt from the last snapshot plus the events after it.
        var restarted = StartSupervisor(id, Settings(Seed()));
        _agent.ExpectMsg<AssignSessions>(Wait);
        var view = Ask<MirrorSessionDetail>(restarted, new GetMirrorSession("seed-mirror")).View!;
        Assert.Equal(25, view.RepairCount);
        Assert.Equal("repair 24", view.LastRepair!.Missing);
        var history = Ask<MirrorHistory>(restarted, new GetMirrorHistory("seed-mirror", 100));
        Assert.Equal(26, history.Entries.Length); // defined + 25 repairs
        Assert.Equal(repairs.Select(r => r.Missing), history.Entries.Skip(1).Select(e => e.Repair!.Missing));

        // The agent repeats its recent repairs (from before and after the snapshot) in its reports: recognised, not journaled again.
        var report = new AgentReport("pve-a", 0, true, null, ImmutableArray<MirrorSessionStatus>.Empty, [repairs[3], repairs[24]]);
        restarted.Tell(report, _agent.Ref);
        _agent.ExpectMsg<AssignSessions>(Wait); // (version 0 is answered with the assignment; the report has been handled)
        Assert.Equal(25, Ask<MirrorSessionDetail>(restarted, new GetMirrorSession("seed-mirror")).View!.RepairCount);
    }

    private static long SnapshotCount(string persistenceId)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DbFile}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM snapshot WHERE persistence_id = $id";
        command.Parameters.AddWithValue("$id", persistenceId);
        return (long)command.ExecuteScalar()!;
    }

    [Fact]
    public void A_repair_is_journaled_once_whether_it_comes_alone_or_again_in_reports()
    {
        var supervisor = StartSupervisor("sup-" + Guid.NewGuid().ToString("N")[..8], Settings(Seed()));
        var assign = _agent.ExpectMsg<AssignSessions>(Wait);
        var lost = new MirrorRepair("seed-mirror", "pve-a", DateTimeOffset.UtcNow, "event", "source tap101i1 not selected (ingress)", TimeSpan.FromMilliseconds(4), null);
        var sent = new MirrorRepair("seed-mirror", "pve-a", lost.DetectedAt, "event", "output port tap103i1 not set", TimeSpan.FromMilliseconds(5), null);
        supervisor.Tell(new RepairRecorded(sent), _agent.Ref);

        // The first repair's RepairRecorded was lost (supervisor moving); the reports carry both, twice.
        var report = new AgentReport("pve-a", assign.Version, true, null, ImmutableArray<MirrorSessionStatus>.Empty, [lost, sent]);
        supervisor.Tell(report, _agent.Ref);
        supervisor.Tell(report, _agent.Ref);

        AwaitAssert(() => Assert.Equal(2, Ask<MirrorSessionDetail>(supervisor, new GetMirrorSession("seed-mirror")).View!.RepairCount), Wait);
        var repairs = Ask<MirrorHistory>(supervisor, new GetMirrorHistory("seed-mirror", 50)).Entries.Where(e => e.Kind == "repair").ToList();
        Assert.Equal(2, repairs.Count);
    }

    [Fact]
    public void Specs_compare_by_value()
    {
        Assert.Equal(Seed(), Seed());
        Assert.True(Seed() == Seed());
        Assert.NotEqual(Seed(), Seed() with { Sources = ["vm:101/net6", "vm:101/net1"] });
        Assert.Equal(Seed().GetHashCode(), Seed().GetHashCode());
        Assert.Equal<MirrorSessionSpec>([Seed()], ImmutableArray.Create(Seed()));
    }

    [Fact]
    public void Remove_is_idempotent_and_reassigns_the_site()
    {
        var supervisor = StartSupervisor("sup-" + Guid.NewGuid().ToString("N")[..8], Settings());
        _agent.ExpectMsg<AssignSessions>(Wait);
        Assert.True(Ask<MirrorCommandResult>(supervisor, new DefineMirrorSession(Seed())).Changed);
        _agent.ExpectMsg<AssignSessions>(Wait);
        var removed = Ask<MirrorCommandResult>(supervisor, new RemoveMirrorSession("seed-mirror"));
        Assert.True(removed.Changed);
        Assert.Empty(_agent.ExpectMsg<AssignSessions>(Wait).Sessions);
        var again = Ask<MirrorCommandResult>(supervisor, new RemoveMirrorSession("seed-mirror"));
        Assert.True(again.Ok);
        Assert.False(again.Changed);
        Assert.Equal("mirror seed-mirror is not defined", again.Message);
    }

    [Theory]
    [InlineData("lab", "site: no site \"lab\" in fabric.sites (declared: pve-a)")]
    [InlineData("bad-source", "sources[1]: expected \"vm:<vmid>/net<n>\" (e.g. vm:101/net1), got \"vm:x\"")]
    public void Invalid_sessions_are_refused_with_the_field(string variant, string expected)
    {
        var supervisor = StartSupervisor("sup-" + Guid.NewGuid().ToString("N")[..8], Settings());
        var spec = variant == "lab" ? Seed() with { Site = "lab" } : Seed() with { Sources = ["vm:101/net1", "vm:x"] };
        var result = Ask<MirrorCommandResult>(supervisor, new DefineMirrorSession(spec));
        Assert.False(result.Ok);
        Assert.Equal(expected, result.Message);
    }

    [Fact]
    public void An_agent_holding_another_version_is_reassigned()
    {
        var supervisor = StartSupervisor("sup-" + Guid.NewGuid().ToString("N")[..8], Settings(Seed()));
        var assign = _agent.ExpectMsg<AssignSessions>(Wait);
        supervisor.Tell(new AgentReport("pve-a", 0, true, null, ImmutableArray<MirrorSessionStatus>.Empty, ImmutableArray<MirrorRepair>.Empty), _agent.Ref);
        var again = _agent.ExpectMsg<AssignSessions>(Wait);
        Assert.Equal(assign.Version, again.Version);
        Assert.Equal<MirrorSessionSpec>(assign.Sessions, again.Sessions);
        supervisor.Tell(new AgentReport("pve-a", assign.Version, true, null, ImmutableArray<MirrorSessionStatus>.Empty, ImmutableArray<MirrorRepair>.Empty), _agent.Ref);
        _agent.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Backend_sessions_an_agent_reports_are_in_the_session_view()
    {
        var supervisor = StartSupervisor("sup-" + Guid.NewGuid().ToString("N")[..8], Settings(Seed()));
        var assign = _agent.ExpectMsg<AssignSessions>(Wait);
        var held = new MirrorBackendSession("seed-mirror", "tms-01", "eni-01", "i-01", "web-1", 10, 4242, "tmt-01", "ENI eni-09");
        var stranger = held with { Rule = "not-defined", Id = "tms-02" };
        supervisor.Tell(new AgentReport("pve-a", assign.Version, true, null, [], [], [held, stranger]), _agent.Ref);

        AwaitAssert(() => Assert.Equal([held], Ask<MirrorSessionList>(supervisor, ListMirrorSessions.Instance).Sessions.Single().BackendSessions.ToArray()), Wait);

        // The agent no longer reports any: none shown.
        supervisor.Tell(new AgentReport("pve-a", assign.Version, true, null, [], []), _agent.Ref);
        AwaitAssert(() => Assert.Empty(Ask<MirrorSessionDetail>(supervisor, new GetMirrorSession("seed-mirror")).View!.BackendSessions), Wait);
    }
}
