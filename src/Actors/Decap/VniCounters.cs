using System.Collections.Immutable;
using System.Numerics;

namespace Fabric.Actors.Decap;

/// <summary>
/// Packets and bytes per VNI (VXLAN, VXLAN-GPE or Geneve; the innermost one) arriving at one
/// pipeline's decap stage, so an operator sees what each AWS Traffic Mirror session (each has its
/// own VNI) actually delivers. A fixed table: the allowed VNIs (<c>allowed-vnis</c>) are entered
/// at start, then the first <c>vni-counters</c> other VNIs seen get a row each; later VNIs are
/// counted together as "other". Open addressing over arrays allocated once: nothing is allocated,
/// locked or logged per packet. Written only by the decap stage's thread (plain adds); other
/// threads read it with <see cref="Snapshot"/> (values at most one packet stale; longs are read
/// atomically on 64-bit).
/// </summary>
public sealed class VniCounters
{
    /// <summary>Largest <c>vni-counters</c>.</summary>
    public const int MaxTracked = 4096;

    private readonly int[] _keys; // VNI + 1; 0 = empty slot
    private readonly long[] _packets;
    private readonly long[] _bytes;
    private readonly bool[] _allowedSlot;
    private readonly int _mask;
    private readonly int _tracked;
    private readonly bool _restricted;
    private readonly ImmutableArray<int> _allowed;
    private int _learned;
    private long _otherPackets;
    private long _otherBytes;

    /// <param name="tracked">VNIs counted one by one besides the allowed ones (first seen first).</param>
    /// <param name="allowed">When not empty, only frames with these VNIs pass (<see cref="Count"/> is false for others).</param>
    public VniCounters(int tracked, IReadOnlyCollection<int> allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        ArgumentOutOfRangeException.ThrowIfNegative(tracked);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tracked, MaxTracked);
        _tracked = tracked;
        _allowed = [.. allowed.Distinct().Order()];
        _restricted = _allowed.Length > 0;
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(8, (tracked + _allowed.Length) * 2));
        _keys = new int[size];
        _packets = new long[size];
        _bytes = new long[size];
        _allowedSlot = new bool[size];
        _mask = size - 1;
        foreach (var vni in _allowed)
        {
            int slot = Find(vni);
            _keys[slot] = vni + 1;
            _allowedSlot[slot] = true;
        }
    }

    /// <summary>Whether frames are restricted to <see cref="Allowed"/>.</summary>
    public bool Restricted => _restricted;

    public ImmutableArray<int> Allowed => _allowed;

    /// <summary>
    /// Counts one frame of <paramref name="bytes"/> bytes with <paramref name="vni"/> (0-16777215);
    /// returns whether it may pass (always true unless <c>allowed-vnis</c> is set). Decap thread only.
    /// </summary>
    public bool Count(uint vni, int bytes)
    {
        int key = (int)(vni & 0xFFFFFF);
        int slot = Find(key);
        if (_keys[slot] == 0)
        {
            if (_learned >= _tracked)
            {
                _otherPackets++;
                _otherBytes += bytes;
                return !_restricted;
            }

            _learned++;
            Volatile.Write(ref _keys[slot], key + 1);
        }

        _packets[slot]++;
        _bytes[slot] += bytes;
        return !_restricted || _allowedSlot[slot];
    }

    /// <summary>The counters now, rows ordered by VNI (any thread).</summary>
    public VniStats Snapshot()
    {
        var rows = ImmutableArray.CreateBuilder<VniCount>();
        for (int i = 0; i < _keys.Length; i++)
        {
            int key = Volatile.Read(ref _keys[i]);
            if (key != 0)
            {
                rows.Add(new VniCount(key - 1, Volatile.Read(ref _packets[i]), Volatile.Read(ref _bytes[i]), !_restricted || _allowedSlot[i]));
            }
        }

        rows.Sort((a, b) => a.Vni.CompareTo(b.Vni));
        return new VniStats(rows.ToImmutable(), Volatile.Read(ref _otherPackets), Volatile.Read(ref _otherBytes), _tracked, _allowed);
    }

    private int Find(int key)
    {
        int slot = (int)(((uint)key * 0x9E3779B1u) >> 8) & _mask;
        while (true)
        {
            int k = _keys[slot];
            if (k == 0 || k == key + 1)
            {
                return slot;
            }

            slot = (slot + 1) & _mask;
        }
    }
}

/// <summary>Packets and bytes (outer, as captured) of one VNI at a pipeline's decap stage; <paramref name="Allowed"/>: passes <c>allowed-vnis</c>.</summary>
public sealed record VniCount(int Vni, long Packets, long Bytes, bool Allowed) : IFabricMessage;

/// <summary>
/// Per-VNI counters of one pipeline: a row per VNI of the table, the frames of VNIs beyond it
/// (<paramref name="OtherPackets"/>), the table's size for learned VNIs and the allowed VNIs (empty: all pass).
/// </summary>
public sealed record VniStats(ImmutableArray<VniCount> Vnis, long OtherPackets, long OtherBytes, int Tracked, ImmutableArray<int> Allowed) : IFabricMessage;
