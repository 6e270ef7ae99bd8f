using Akka.Actor;
using Fabric.Protocols;

namespace Fabric.Actors.Mirrors;

/// <summary>Where the supervisor's journal is in its life (<see cref="JournalOutbox.Phase"/>).</summary>
internal enum JournalPhase
{
    /// <summary>A journal child is started and reading the state (snapshot + events); nothing is written.</summary>
    Reading,

    /// <summary>The journal child recovered and takes events: the outbox writes to it.</summary>
    Available,

    /// <summary>The journal child stopped (failed write or recovery); a new one is started after a backoff.</summary>
    Down,
}

/// <summary>
/// The mirror supervisor's write-ahead outbox over its <see cref="MirrorJournal"/> child: events are
/// applied to <see cref="State"/> at once and kept, in order, until the journal confirms them;
/// <see cref="Confirmed"/> is the state as the journal holds it. Survives the journal child: when it
/// stops, the kept events stay and are written again, once, by the next one (an event that a failed
/// write may nevertheless have stored is recognised in the recovered tail and dropped).
/// </summary>
/// <remarks>
/// <para>Lifecycle: <see cref="JournalPhase.Reading"/> → <see cref="Recovered"/> →
/// <see cref="JournalPhase.Available"/> → <see cref="Stopped"/> → <see cref="JournalPhase.Down"/> →
/// <see cref="Start"/> → <see cref="JournalPhase.Reading"/>; one method per event, each returning
/// what the owner has to tell others (nothing when the event is not for the current journal).</para>
/// <para>A plain class owned by the supervisor, not an actor: the supervisor checks every command
/// and answers every query against <see cref="State"/> within the same message, and assigns from
/// <see cref="Confirmed"/>. As an actor the outbox would have to hand both states over in messages
/// (every query a round trip, a window where the supervisor's copy lags); as a class the supervisor
/// holds no state of its own beside it, and the transitions are unit tested without a database.
/// <see cref="MirrorJournal"/> keeps its own copy because it runs on another thread and snapshots
/// the state at the sequence number it has just written.</para>
/// <para>Not thread-safe: called only from the owning actor (the journal actor is started, and
/// written to, from it).</para>
/// </remarks>
internal sealed class JournalOutbox
{
    private readonly int _historyPerSession;
    private readonly Func<long, int, IActorRef> _startJournal;

    /// <summary>journal-min-backoff, doubled after each failure in a row, at most journal-max-backoff.</summary>
    private readonly Backoff _backoff;

    /// <summary>Events not yet confirmed by the journal, oldest first.</summary>
    private readonly LinkedList<Slot> _slots = new();

    /// <summary>Repairs reported before the state was first recovered.</summary>
    private readonly List<MirrorRepair> _early = [];

    /// <summary>The current journal child: set while <see cref="JournalPhase.Reading"/> or <see cref="JournalPhase.Available"/>.</summary>
    private IActorRef? _journal;
    private long _lastAckedSeq = -1;
    private long _nextToken;
    private int _starts;

    /// <param name="settings">History per session, journal backoff.</param>
    /// <param name="startJournal">Starts (and watches) a journal child given the last acknowledged sequence number and the start's number (1, 2, …).</param>
    public JournalOutbox(MirrorSettings settings, Func<long, int, IActorRef> startJournal)
    {
        _historyPerSession = settings.HistoryPerSession;
        _startJournal = startJournal;
        _backoff = new Backoff(settings.JournalMinBackoff, settings.JournalMaxBackoff);
    }

    public JournalPhase Phase { get; private set; } = JournalPhase.Reading;

    /// <summary>The journal takes events now.</summary>
    public bool Available => Phase == JournalPhase.Available;

    /// <summary>The state as the journal confirmed it (null until first recovered); assignments come from it.</summary>
    public MirrorSupervisorState? Confirmed { get; private set; }

    /// <summary><see cref="Confirmed"/> plus the events kept for the journal; queries and commands use it.</summary>
    public MirrorSupervisorState? State { get; private set; }

    /// <summary>Events kept for the journal (not counting the repairs reported before the first recovery).</summary>
    public int Count => _slots.Count;

    /// <summary>The events kept, oldest first.</summary>
    public IEnumerable<OutboxEntry> Entries => _slots.Select(s => s.Entry);

    /// <summary>Everything waiting for the journal: the events kept and the repairs reported before the first recovery.</summary>
    public int Waiting => _slots.Count + _early.Count;

    /// <summary>Since when the journal does not take events (null while available).</summary>
    public DateTimeOffset? UnavailableSince { get; private set; } = DateTimeOffset.UtcNow;

    /// <summary>Why the journal does not take events (the last failure the journal reported).</summary>
    public string? Problem { get; private set; } = "reading the journal (starting)";

    /// <summary>Journal children that stopped.</summary>
    public long Failures { get; private set; }

    public DateTimeOffset? LastRecoveredAt { get; private set; }

    public MirrorJournalStatus Status => new(Available, Confirmed is not null, UnavailableSince, Problem, Waiting, Failures, LastRecoveredAt);

    /// <summary>Starts a journal child (at start, and after <see cref="Stopped"/>'s delay): reading.</summary>
    public void Start()
    {
        Phase = JournalPhase.Reading;
        _journal = _startJournal(_lastAckedSeq, ++_starts);
    }

    /// <summary>The journal child said why it is about to stop.</summary>
    public void Failed(string problem) => Problem = problem;

    /// <summary>
    /// The journal child read the state: available. Drops the kept events the journal already has
    /// (its tail), and on the first recovery keeps the early repairs it does not know. Writes nothing
    /// yet: the owner may add events (the configuration merge) and then calls <see cref="Flush"/>.
    /// Null when <paramref name="from"/> is not the current journal.
    /// </summary>
    public Recovery? Recovered(IActorRef from, JournalRecovered recovered)
    {
        if (!from.Equals(_journal))
        {
            return null;
        }

        var first = Confirmed is null;
        Confirmed = MirrorSupervisorState.From(recovered.State, _historyPerSession);

        // A write reported as failed may have reached the database: those events are in the tail, not written again.
        var tail = recovered.Tail.IsDefault ? [] : recovered.Tail;
        foreach (var (_, e) in tail)
        {
            if (_slots.First is { } head && Equals(head.Value.Entry.Event, e))
            {
                _slots.RemoveFirst();
            }
        }

        _lastAckedSeq = recovered.LastSequenceNr;
        Phase = JournalPhase.Available;
        _backoff.Reset();
        var now = DateTimeOffset.UtcNow;
        var downFor = now - (UnavailableSince ?? now);
        UnavailableSince = null;
        Problem = null;
        LastRecoveredAt = now;

        if (first)
        {
            foreach (var repair in _early)
            {
                if (!Confirmed.Knows(repair.Id) && !_slots.Any(s => s.Entry.Event is MirrorRepairLogged l && l.Repair.Id == repair.Id))
                {
                    _slots.AddLast(new Slot(++_nextToken, new OutboxEntry(new MirrorRepairLogged(repair), null, repair.Session)));
                }
            }

            _early.Clear();
        }

        Rebuild();
        return new Recovery(first, downFor);
    }

    /// <summary>The journal confirmed the oldest kept event: applied to <see cref="Confirmed"/> and returned (null for an answer of a journal that failed since: its events were sent again).</summary>
    public OutboxEntry? Written(JournalWritten written)
    {
        if (_slots.First is not { } node || node.Value.Token != written.Token)
        {
            return null;
        }

        _slots.RemoveFirst();
        _lastAckedSeq = written.SequenceNr;
        Confirmed!.Apply(node.Value.Entry.Event, written.SequenceNr);
        return node.Value.Entry;
    }

    /// <summary>The journal refused the oldest kept event: dropped (and a command's change taken out of <see cref="State"/>) and returned, or null.</summary>
    public OutboxEntry? Rejected(JournalRejected rejected)
    {
        if (_slots.First is not { } node || node.Value.Token != rejected.Token)
        {
            return null;
        }

        _slots.RemoveFirst();
        if (node.Value.Entry.ReplyTo is not null)
        {
            Rebuild();
        }

        return node.Value.Entry;
    }

    /// <summary>
    /// A watched actor stopped. If it is the current journal: down. Commands (they wait for their own
    /// write) are taken out of the outbox and of <see cref="State"/> and returned to be refused; the
    /// other events are kept and sent again to the next journal, started after
    /// <see cref="Outage.RetryIn"/>. Null for any other actor.
    /// </summary>
    public Outage? Stopped(IActorRef actor)
    {
        if (!actor.Equals(_journal))
        {
            return null;
        }

        _journal = null;
        Phase = JournalPhase.Down;
        Failures++;
        UnavailableSince ??= DateTimeOffset.UtcNow;
        Problem ??= "the journal stopped";

        var refused = _slots.Where(s => s.Entry.ReplyTo is not null).ToList();
        foreach (var s in refused)
        {
            _slots.Remove(s);
        }

        foreach (var s in _slots)
        {
            s.Sent = false;
        }

        if (refused.Count > 0)
        {
            Rebuild();
        }

        return new Outage([.. refused.Select(s => s.Entry)], _backoff.Next());
    }

    /// <summary>Keeps an event: applied to <see cref="State"/> now, written when the journal takes it (at once if available). Only once recovered.</summary>
    public void Enqueue(OutboxEntry entry)
    {
        if (State is null)
        {
            throw new InvalidOperationException("the outbox takes events once the state was recovered");
        }

        _slots.AddLast(new Slot(++_nextToken, entry));
        State.Apply(entry.Event, 0);
        Flush();
    }

    /// <summary>Keeps a repair reported before the state was first recovered (once per id); false if already kept.</summary>
    public bool KeepEarly(MirrorRepair repair)
    {
        if (_early.Any(r => r.Id == repair.Id))
        {
            return false;
        }

        _early.Add(repair);
        return true;
    }

    /// <summary>Sends the journal the kept events it has not been sent, in one write (nothing unless available).</summary>
    public void Flush()
    {
        if (Phase != JournalPhase.Available || _journal is null)
        {
            return;
        }

        var batch = _slots.Where(s => !s.Sent).ToList();
        if (batch.Count == 0)
        {
            return;
        }

        foreach (var s in batch)
        {
            s.Sent = true;
        }

        _journal.Tell(new JournalWrite([.. batch.Select(s => (s.Token, s.Entry.Event))]));
    }

    /// <summary>The state again: as confirmed by the journal, plus the events still waiting for it.</summary>
    private void Rebuild()
    {
        State = MirrorSupervisorState.From(Confirmed!.ToSnapshot(), _historyPerSession);
        foreach (var s in _slots)
        {
            State.Apply(s.Entry.Event, 0);
        }
    }

    /// <summary>A kept event, its token in the journal's answers, and whether the current journal was sent it.</summary>
    private sealed class Slot(long token, OutboxEntry entry)
    {
        public long Token { get; } = token;

        public OutboxEntry Entry { get; } = entry;

        public bool Sent { get; set; }
    }
}

/// <summary>An event waiting for the journal; <see cref="ReplyTo"/> is set for a console command (answered once written).</summary>
internal sealed class OutboxEntry(object @event, IActorRef? replyTo, string subject)
{
    public object Event { get; } = @event;

    public IActorRef? ReplyTo { get; } = replyTo;

    /// <summary>The session the event is about.</summary>
    public string Subject { get; } = subject;

    /// <summary>Definition or removal: the site the session was on before (assigned again once written).</summary>
    public string? OldSite { get; init; }

    /// <summary>The answer once written.</summary>
    public string? Done { get; init; }

    /// <summary>A definition merged from <c>fabric.mirrors</c> at start (kept and written again after a journal failure).</summary>
    public bool Config { get; init; }
}

/// <summary><see cref="JournalOutbox.Recovered"/>: whether it was the first recovery, and how long the journal was unavailable.</summary>
internal sealed record Recovery(bool First, TimeSpan DownFor);

/// <summary><see cref="JournalOutbox.Stopped"/>: the commands to refuse, and when to start the next journal.</summary>
internal sealed record Outage(IReadOnlyList<OutboxEntry> Refused, TimeSpan RetryIn);
