using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Mirrors;
using Xunit;
using Fabric.Actors.Mirrors.Registry;

namespace Fabric.Actors.Tests.Mirrors;

/// <summary>
/// The supervisor's outbox state by state, without a database: each journal child is a probe, and
/// the journal's answers (recovered, written, rejected, stopped) are handed to the outbox as the
/// supervisor hands them. The same behaviour end to end, on a journal that fails, is
/// <see cref="MirrorSupervisorJournalOutageTests"/>.
/// </summary>
public sealed class JournalOutboxTests : TestKit
{
    private static readonly MirrorSettings Settings = new()
    {
        Sites = [new MirrorSiteSettings("pve-a", MirrorBackendKind.Ovs, null, TimeSpan.FromSeconds(30))],
        Backends = MirrorBackends.Set,
        Mirrors = [],
        JournalMinBackoff = TimeSpan.FromMilliseconds(100),
        JournalMaxBackoff = TimeSpan.FromMilliseconds(400),
    };

    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);

    private readonly List<TestProbe> _journals = [];
    private readonly List<long> _tailAfter = [];

    private JournalOutbox NewOutbox() => new(Settings, (tailAfter, start) =>
    {
        Assert.Equal(_journals.Count + 1, start);
        _tailAfter.Add(tailAfter);
        var journal = CreateTestProbe();
        _journals.Add(journal);
        return journal.Ref;
    });

    private static MirrorSupervisorSnapshot Empty => new MirrorSupervisorState(Settings.HistoryPerSession).ToSnapshot();

    private static MirrorSessionSpec Spec(string name) =>
        new(name, "pve-a", MirrorBackendKind.Ovs, "vmbr1", ["vm:101/net1"], MirrorDirection.Both, "vm:103/net1", null, true);

    private static MirrorRepair Repair(int i) =>
        new("seed-mirror", "pve-a", DateTimeOffset.UtcNow, "event", $"source tap101i1 not selected (repair {i})", TimeSpan.FromMilliseconds(3), null);

    private static OutboxEntry Logged(MirrorRepair repair) => new(new MirrorRepairLogged(repair), null, repair.Session);

    private static Guid RepairId(object e) => ((MirrorRepairLogged)e).Repair.Id;

    /// <summary>Started and recovered from an empty journal: available, journal child 0.</summary>
    private JournalOutbox Available()
    {
        var outbox = NewOutbox();
        outbox.Start();
        Assert.NotNull(outbox.Recovered(_journals[0].Ref, new JournalRecovered(Empty, 0, [])));
        Assert.Equal(JournalPhase.Available, outbox.Phase);
        return outbox;
    }

    [Fact]
    public void While_the_journal_is_down_events_are_kept_in_order_counted_and_applied_to_the_state_only()
    {
        var outbox = NewOutbox();
        outbox.Start();
        Assert.Equal(JournalPhase.Reading, outbox.Phase);
        Assert.False(outbox.Status.Available);
        Assert.False(outbox.Status.Recovered);
        Assert.Equal("reading the journal (starting)", outbox.Problem);

        // Before the first recovery only repairs are kept (once per id); they count as waiting.
        var early = Repair(0);
        Assert.True(outbox.KeepEarly(early));
        Assert.False(outbox.KeepEarly(early));
        Assert.Equal(1, outbox.Status.Pending);
        Assert.Null(outbox.State);

        Assert.True(outbox.Recovered(_journals[0].Ref, new JournalRecovered(Empty, 0, []))!.First);
        outbox.Flush();
        Assert.Equal([early.Id], _journals[0].ExpectMsg<JournalWrite>().Events.Select(e => RepairId(e.Event)));

        // The journal child stops before confirming: down, nothing lost, the first retry after journal-min-backoff.
        outbox.Failed("write failed: database down");
        var outage = outbox.Stopped(_journals[0].Ref)!;
        Assert.Empty(outage.Refused);
        Assert.Equal(TimeSpan.FromMilliseconds(100), outage.RetryIn);
        Assert.Equal(JournalPhase.Down, outbox.Phase);
        Assert.Null(outbox.Stopped(_journals[0].Ref)); // a stopped journal is not stopped twice
        Assert.Null(outbox.Stopped(CreateTestProbe().Ref)); // nor is any other watched actor the journal

        var kept = Enumerable.Range(1, 3).Select(Repair).ToList();
        foreach (var repair in kept)
        {
            outbox.Enqueue(Logged(repair));
        }

        var status = outbox.Status;
        Assert.False(status.Available);
        Assert.True(status.Recovered);
        Assert.NotNull(status.UnavailableSince);
        Assert.Equal("write failed: database down", status.Problem);
        Assert.Equal(4, status.Pending);
        Assert.Equal(1, status.Failures);
        Assert.Equal(kept.Select(r => r.Id).Prepend(early.Id), outbox.Entries.Select(e => RepairId(e.Event)));
        Assert.Equal(4, outbox.State!.RepairCounts["seed-mirror"]);
        Assert.False(outbox.Confirmed!.RepairCounts.ContainsKey("seed-mirror"));
        _journals[0].ExpectNoMsg(Quiet);

        // A journal that fails again while reading: the next try waits twice as long.
        outbox.Start();
        Assert.Equal(JournalPhase.Reading, outbox.Phase);
        outbox.Flush();
        _journals[1].ExpectNoMsg(Quiet); // nothing is written while the journal reads
        Assert.Equal(TimeSpan.FromMilliseconds(200), outbox.Stopped(_journals[1].Ref)!.RetryIn);
        Assert.Equal(2, outbox.Status.Failures);
        Assert.Equal(4, outbox.Count);
    }

    [Fact]
    public void When_the_journal_is_back_the_kept_events_are_written_in_order_exactly_once()
    {
        var outbox = Available();
        outbox.Stopped(_journals[0].Ref);
        var kept = Enumerable.Range(1, 3).Select(Repair).ToList();
        foreach (var repair in kept)
        {
            outbox.Enqueue(Logged(repair));
        }

        outbox.Start();
        Assert.Equal([-1L, 0L], _tailAfter); // the next journal reports what it holds after the last acknowledged event
        Assert.Null(outbox.Recovered(_journals[0].Ref, new JournalRecovered(Empty, 0, []))); // the stopped journal's answer is not taken
        var recovery = outbox.Recovered(_journals[1].Ref, new JournalRecovered(Empty, 0, []))!;
        Assert.False(recovery.First);
        Assert.True(recovery.DownFor >= TimeSpan.Zero);
        Assert.True(outbox.Available);
        Assert.Null(outbox.UnavailableSince);
        Assert.Null(outbox.Problem);
        Assert.NotNull(outbox.LastRecoveredAt);

        outbox.Flush();
        var write = _journals[1].ExpectMsg<JournalWrite>();
        Assert.Equal(kept.Select(r => r.Id), write.Events.Select(e => RepairId(e.Event)));
        outbox.Flush();
        _journals[1].ExpectNoMsg(Quiet); // sent once

        var seq = 0L;
        foreach (var (token, e) in write.Events)
        {
            Assert.Same(e, outbox.Written(new JournalWritten(token, ++seq))!.Event);
        }

        Assert.Null(outbox.Written(new JournalWritten(write.Events[^1].Token, seq))); // confirmed once
        Assert.Equal(0, outbox.Status.Pending);
        Assert.Equal(3, outbox.Confirmed!.RepairCounts["seed-mirror"]);
        Assert.Equal(3, outbox.State!.RepairCounts["seed-mirror"]);

        // A journal failing again starts reading after the last acknowledged sequence number; the backoff started again.
        Assert.Equal(TimeSpan.FromMilliseconds(100), outbox.Stopped(_journals[1].Ref)!.RetryIn);
        outbox.Start();
        Assert.Equal(3, _tailAfter[^1]);
    }

    [Fact]
    public void A_kept_event_that_a_failed_write_stored_is_recognised_in_the_tail_and_not_written_again()
    {
        var outbox = Available();
        var first = Repair(1);
        var second = Repair(2);
        outbox.Enqueue(Logged(first));
        outbox.Enqueue(Logged(second));
        Assert.Single(_journals[0].ExpectMsg<JournalWrite>().Events);
        Assert.Single(_journals[0].ExpectMsg<JournalWrite>().Events);
        outbox.Stopped(_journals[0].Ref);

        var stored = new MirrorSupervisorState(Settings.HistoryPerSession);
        stored.Apply(new MirrorRepairLogged(first), 1);
        outbox.Start();
        outbox.Recovered(_journals[1].Ref, new JournalRecovered(stored.ToSnapshot(), 1, [(1, new MirrorRepairLogged(first))]));
        outbox.Flush();

        var write = _journals[1].ExpectMsg<JournalWrite>();
        Assert.Equal([second.Id], write.Events.Select(e => RepairId(e.Event)));
        Assert.Equal(1, outbox.Confirmed!.RepairCounts["seed-mirror"]);
        Assert.Equal(2, outbox.State!.RepairCounts["seed-mirror"]);
    }

    [Fact]
    public void A_rejected_command_is_taken_out_of_the_state_a_rejected_repair_stays_in_memory_only()
    {
        var outbox = Available();
        var client = CreateTestProbe();
        outbox.Enqueue(new OutboxEntry(new MirrorSessionDefined(Spec("m1"), "console", DateTimeOffset.UtcNow), client.Ref, "m1") { Done = "mirror m1 defined" });
        var repair = Repair(1);
        outbox.Enqueue(Logged(repair));
        var define = Assert.Single(_journals[0].ExpectMsg<JournalWrite>().Events);
        var logged = Assert.Single(_journals[0].ExpectMsg<JournalWrite>().Events);
        Assert.True(outbox.State!.Sessions.ContainsKey("m1"));

        Assert.Null(outbox.Rejected(new JournalRejected(logged.Token, "not serialisable"))); // only the oldest can be answered
        var rejected = outbox.Rejected(new JournalRejected(define.Token, "not serialisable"))!;
        Assert.Same(client.Ref, rejected.ReplyTo);
        Assert.Equal("m1", rejected.Subject);
        Assert.False(outbox.State!.Sessions.ContainsKey("m1"));
        Assert.False(outbox.Confirmed!.Sessions.ContainsKey("m1"));
        Assert.Equal(1, outbox.State.RepairCounts["seed-mirror"]);
        Assert.True(outbox.Available); // a refusal is not a failure: the journal stays

        Assert.Null(outbox.Rejected(new JournalRejected(logged.Token, "not serialisable"))!.ReplyTo);
        Assert.Equal(0, outbox.Count);
        Assert.Equal(1, outbox.State.RepairCounts["seed-mirror"]);
        Assert.False(outbox.Confirmed.RepairCounts.ContainsKey("seed-mirror"));
        Assert.Equal(0, outbox.Status.Failures);
    }

    [Fact]
    public void A_journal_that_stops_refuses_the_commands_waiting_for_it_and_keeps_the_rest()
    {
        var outbox = Available();
        var client = CreateTestProbe();
        var repair = Repair(1);
        outbox.Enqueue(Logged(repair));
        outbox.Enqueue(new OutboxEntry(new MirrorSessionDefined(Spec("m1"), "console", DateTimeOffset.UtcNow), client.Ref, "m1"));
        outbox.Enqueue(new OutboxEntry(new MirrorSessionDefined(Spec("m2"), "config", DateTimeOffset.UtcNow), null, "m2") { Config = true });

        var outage = outbox.Stopped(_journals[0].Ref)!;
        Assert.Equal("m1", Assert.Single(outage.Refused).Subject);
        Assert.Equal("the journal stopped", outbox.Problem);
        Assert.Equal(["seed-mirror", "m2"], outbox.Entries.Select(e => e.Subject));
        Assert.Equal(["m2"], outbox.State!.Sessions.Keys);
        Assert.Equal(1, outbox.State.RepairCounts["seed-mirror"]);

        outbox.Start();
        outbox.Recovered(_journals[1].Ref, new JournalRecovered(Empty, 0, []));
        outbox.Flush();
        var write = _journals[1].ExpectMsg<JournalWrite>();
        Assert.Equal(2, write.Events.Length);
        Assert.Equal(repair.Id, RepairId(write.Events[0].Event));
        Assert.Equal("m2", Assert.IsType<MirrorSessionDefined>(write.Events[1].Event).Spec.Name);
        client.ExpectNoMsg(Quiet); // the outbox answers nobody: the supervisor refuses what it returned
    }

    [Fact]
    public void Events_are_taken_only_once_the_state_was_recovered()
    {
        var outbox = NewOutbox();
        outbox.Start();
        Assert.Throws<InvalidOperationException>(() => outbox.Enqueue(Logged(Repair(1))));
        Assert.Equal(0, outbox.Status.Pending);
    }
}
