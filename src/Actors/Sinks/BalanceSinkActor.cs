using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane;
using Fabric.Protocols.Flows;

namespace Fabric.Actors.Sinks;

/// <summary>
/// Spreads each batch over the member sinks by inner flow. Every frame is hashed (<see cref="FlowHasher"/>,
/// symmetric) and given to the member with the highest rendezvous weight among those that are up (their
/// <see cref="SinkHealth"/>); the frames of one member go on as one view of the batch (<see cref="PacketBatch.Borrow"/>:
/// offsets and lengths only, no bytes copied), so a batch becomes at most one batch per member, never single
/// packets. A member that goes down moves only its own flows (each to its second-highest weight) and they come
/// back when it is up again; frames sent elsewhere than their own member are counted as <c>moved</c>. Members
/// run as child actors, each behind its own bounded queue as deep as this sink's; a member whose queue is full
/// counts the frames as its own <c>queue-full</c>.
/// </summary>
public sealed class BalanceSinkActor : BatchStageActor, IWithTimers
{
    /// <summary><c>queue-full</c> (this sink's own queue, counted by decap), <c>no-member-up</c>.</summary>
    public static readonly IReadOnlyList<string> DropReasons = ["queue-full", "no-member-up"];

    /// <summary>Events before the per-member ones.</summary>
    public static readonly IReadOnlyList<string> FixedEventNames = ["moved", "member-down", "member-up"];

    /// <summary>How often the members' health is looked at between batches (so a member going down or up is
    /// counted, and logged, when it happens, not with the next frame).</summary>
    public static readonly TimeSpan HealthInterval = TimeSpan.FromMilliseconds(100);

    private readonly BalanceSinkSettings _settings;
    private readonly int _queueCapacity;
    private readonly BalanceSplitter _splitter;
    private readonly Func<PacketBatch, PacketBatch> _rentView;
    private readonly SinkHealth[] _health;
    private readonly BatchQueue[] _queues;
    private readonly StageCounters[] _memberCounters;
    private readonly int[] _memberQueueFull;
    private readonly int[] _toMember;
    private readonly PacketBatch?[] _views;
    private readonly long[] _memberBytes;
    private readonly int _noMemberUp;
    private readonly int _moved;
    private readonly int _memberDown;
    private readonly int _memberUp;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private PacketBatchPool? _viewPool;
    private ulong _lastUp;

    public BalanceSinkActor(BalanceSinkSettings settings, BatchQueue queue, StageCounters counters)
        : base(queue, counters, settings.Cpu, nice: settings.Nice)
    {
        _settings = settings;
        _queueCapacity = queue.Capacity;
        int members = settings.Members.Count;
        if (members is < 1 or > BalanceSinkSettings.MaxMembers || counters.Members.Count != members)
        {
            throw new ArgumentException($"balance sink {settings.Stage}: 1-{BalanceSinkSettings.MaxMembers} members, each with its counters", nameof(settings));
        }

        _splitter = new BalanceSplitter([.. settings.Members.Select(m => Seed(m.Stage))]);
        _rentView = RentView;
        _health = [.. settings.Members.Select(_ => new SinkHealth())];
        _queues = [.. settings.Members.Select(_ => new BatchQueue(_queueCapacity))];
        _memberCounters = [.. counters.Members];
        _memberQueueFull = [.. _memberCounters.Select(c => c.ReasonIndex("queue-full"))];
        _toMember = [.. settings.Members.Select(m => counters.EventIndex(ToMemberEvent(m.Stage)))];
        _views = new PacketBatch?[members];
        _memberBytes = new long[members];
        _noMemberUp = counters.ReasonIndex("no-member-up");
        _moved = counters.EventIndex("moved");
        _memberDown = counters.EventIndex("member-down");
        _memberUp = counters.EventIndex("member-up");
        _lastUp = AllUp(members);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(BalanceSinkSettings settings, BatchQueue queue, StageCounters counters) =>
        Akka.Actor.Props.Create(() => new BalanceSinkActor(settings, queue, counters));

    /// <summary>The event that counts the frames handed to the member with stage name <paramref name="stage"/>.</summary>
    public static string ToMemberEvent(string stage) => "to-" + stage;

    /// <summary>A member's rendezvous seed: from its stage name, so it does not depend on the member's place in the
    /// list (adding a member moves only the flows it wins).</summary>
    public static ulong Seed(string stage)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (char c in stage)
        {
            h = (h ^ c) * 0x100000001B3UL;
        }

        return FlowHasher.Finish(h);
    }

    /// <summary>A member failing fails this sink, and so the pipeline, as any stage does.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Escalate);

    protected override void PreStart()
    {
        base.PreStart();
        for (int i = 0; i < _queues.Length; i++)
        {
            var props = StageDispatcher.OnOwnThreadIfNeeded(Context.System,
                _settings.Members[i].CreateProps(_queues[i], _memberCounters[i], _health[i]), _settings.Members[i].Cpu, _settings.Members[i].Nice);
            _queues[i].Target = Context.Watch(Context.ActorOf(props, $"member-{i}"));
        }

        Timers.StartPeriodicTimer(CheckHealth.Instance, CheckHealth.Instance, HealthInterval);
    }

    protected override void OnControl(object message)
    {
        if (message is CheckHealth)
        {
            _ = MembersUp();
            return;
        }

        if (message is Terminated terminated)
        {
            throw new InvalidOperationException($"balance sink {_settings.Stage}: member {terminated.ActorRef.Path.Name} stopped");
        }

        Unhandled(message);
    }

    protected override void Process(PacketBatch batch, int count, long bytes)
    {
        ulong up = MembersUp();
        if (up == 0)
        {
            Counters.AddDropped(_noMemberUp, count, bytes);
            return;
        }

        var views = _views;
        long moved = _splitter.Split(batch, count, up, views, _memberBytes, _rentView);
        for (int m = 0; m < views.Length; m++)
        {
            var view = views[m];
            if (view is null)
            {
                continue;
            }

            views[m] = null;
            long memberBytes = _memberBytes[m];
            _memberBytes[m] = 0;
            int memberCount = view.Count;
            Counters.AddEvent(_toMember[m], memberCount);
            view.SetReferences(1);
            if (!_queues[m].TryPost(view))
            {
                _memberCounters[m].AddIn(memberCount, memberBytes);
                _memberCounters[m].AddDropped(_memberQueueFull[m], memberCount, memberBytes);
                view.Release();
            }
        }

        Counters.AddOut(count, bytes);
        Counters.AddEvent(_moved, moved);
    }

    /// <summary>The health mask (bit m: member m is up); a change is counted and logged.</summary>
    private ulong MembersUp()
    {
        ulong up = 0;
        for (int m = 0; m < _health.Length; m++)
        {
            if (_health[m].Up)
            {
                up |= 1UL << m;
            }
        }

        if (up != _lastUp)
        {
            Changed(_lastUp, up);
            _lastUp = up;
        }

        return up;
    }

    private PacketBatch RentView(PacketBatch source)
    {
        // Each member holds at most its queue's capacity of views, plus the one being filled: the pool never runs
        // dry. Sized on the first batch, whose capacity every batch of the pipeline's pool shares.
        _viewPool ??= new PacketBatchPool(_queues.Length * (_queueCapacity + 1), source.Capacity, 0);
        var view = _viewPool.TryRent() ?? throw new InvalidOperationException($"balance sink {_settings.Stage}: no free view batch");
        view.Borrow(source);
        return view;
    }

    private void Changed(ulong before, ulong after)
    {
        for (int m = 0; m < _health.Length; m++)
        {
            ulong bit = 1UL << m;
            if ((before & bit) != 0 && (after & bit) == 0)
            {
                Counters.AddEvent(_memberDown, 1);
                _log.Warning("Balance sink {0}: member {1} is down; its flows go to the others", _settings.Stage, _settings.Members[m].Stage);
            }
            else if ((before & bit) == 0 && (after & bit) != 0)
            {
                Counters.AddEvent(_memberUp, 1);
                _log.Info("Balance sink {0}: member {1} is up; its flows come back", _settings.Stage, _settings.Members[m].Stage);
            }
        }
    }

    private sealed class CheckHealth
    {
        public static readonly CheckHealth Instance = new();
    }

    private static ulong AllUp(int members) => members == 64 ? ulong.MaxValue : (1UL << members) - 1;
}
