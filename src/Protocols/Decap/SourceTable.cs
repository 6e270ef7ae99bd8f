using System.Buffers.Binary;
using System.Globalization;
using System.Net;

namespace Fabric.Protocols.Decap;

/// <summary>What identifies a mirror session: the outermost tunnel's kind, its outer source address and
/// the id it carries (ERSPAN session id, GRE key, VNI). Unmanaged, compared without allocation.</summary>
public readonly record struct SourceKey(EncapKind Kind, byte IpVersion, UInt128 Address, uint Id, bool HasId)
{
    /// <summary>The key of the session a decapsulated frame came from; <c>default</c> (kind None) when no
    /// tunnel was peeled (a passed-through frame).</summary>
    public static SourceKey Of(in PacketMetadata md)
    {
        if (md.Depth == 0)
        {
            return default;
        }

        ReadOnlySpan<byte> all = md.OuterSource;
        var address = md.OuterIpVersion == 4
            ? (UInt128)BinaryPrimitives.ReadUInt32BigEndian(all)
            : BinaryPrimitives.ReadUInt128BigEndian(all);
        var kind = md.Chain[0];
        return kind switch
        {
            EncapKind.ErspanII or EncapKind.ErspanIII => new(kind, md.OuterIpVersion, address, md.ErspanSessionId, true),
            EncapKind.Gre => new(kind, md.OuterIpVersion, address, md.GreKey, md.HasGreKey),
            EncapKind.Vxlan or EncapKind.VxlanGpe or EncapKind.Geneve => new(kind, md.OuterIpVersion, address, md.Vni, md.HasVni),
            _ => new(kind, md.OuterIpVersion, address, 0, false),
        };
    }

    /// <summary>The outer source address as text (allocates; for names).</summary>
    public string AddressText()
    {
        Span<byte> bytes = stackalloc byte[16];
        if (IpVersion == 4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)Address);
            return new IPAddress(bytes[..4]).ToString();
        }

        BinaryPrimitives.WriteUInt128BigEndian(bytes, Address);
        return new IPAddress(bytes).ToString();
    }

    /// <summary>The session's name, e.g. <c>erspan 198.18.1.10 session 7</c>, <c>vxlan 10.0.0.5 vni 42</c>,
    /// <c>gre 198.18.1.11 key 1001</c> (allocates; once per new source).</summary>
    public string Name()
    {
        var (word, idWord) = Words(Kind);
        if (Kind == EncapKind.None)
        {
            return word;
        }

        return HasId && idWord.Length > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{word} {AddressText()} {idWord} {Id}")
            : string.Create(CultureInfo.InvariantCulture, $"{word} {AddressText()}");
    }

    /// <summary>The words of a kind's source name: the tunnel's and, for kinds with one, the id's ("" if none).</summary>
    internal static (string Word, string IdWord) Words(EncapKind kind) =>
        kind switch
        {
            EncapKind.ErspanI => ("erspan-i", ""),
            EncapKind.ErspanII or EncapKind.ErspanIII => ("erspan", "session"),
            EncapKind.Gre => ("gre", "key"),
            EncapKind.Vxlan => ("vxlan", "vni"),
            EncapKind.VxlanGpe => ("vxlan-gpe", "vni"),
            EncapKind.Geneve => ("geneve", "vni"),
            EncapKind.GreInUdp => ("gre-in-udp", ""),
            EncapKind.IpInIp => ("ip-in-ip", ""),
            _ => ("other", ""),
        };
}

/// <summary>The syntax of source names (<see cref="SourceKey.Name"/>) where a configuration table is keyed by them.</summary>
public static class SourceNames
{
    // Derived from SourceKey.Words, so the names accepted here are the names sources get. GRE is named without
    // its id word when the frame has no key.
    private static readonly (string Word, string IdWord)[] Kinds =
        [.. Enum.GetValues<EncapKind>().Where(k => k != EncapKind.None).Select(SourceKey.Words).Distinct()];

    private static readonly string[] WithId = [.. Kinds.Where(k => k.IdWord.Length > 0).Select(k => k.Word + " " + k.IdWord)];
    private static readonly string[] WithoutId =
        [.. Kinds.Where(k => k.IdWord.Length == 0).Select(k => k.Word), SourceKey.Words(EncapKind.Gre).Word];

    /// <summary>Null when <paramref name="text"/> is a name a source can have (<c>erspan 198.18.1.10 session 7</c>,
    /// <c>vxlan 10.0.0.5 vni 42</c>, <c>gre 198.18.1.11</c>, the address as .NET writes it), else what is wrong.</summary>
    public static string? Check(string text)
    {
        const string Expected = "expected a source name such as \"erspan 198.18.1.10 session 7\", \"vxlan 10.0.0.5 vni 42\", \"gre 198.18.1.11 key 1001\" or \"gre 198.18.1.11\"";
        var parts = text.Split(' ');
        if (parts.Length is not (2 or 4))
        {
            return $"{Expected}, got \"{text}\"";
        }

        if (parts.Length == 4
            ? !WithId.Contains(parts[0] + " " + parts[2], StringComparer.Ordinal)
                || !uint.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id.ToString(CultureInfo.InvariantCulture) != parts[3]
            : !WithoutId.Contains(parts[0], StringComparer.Ordinal))
        {
            return $"{Expected}, got \"{text}\"";
        }

        if (!IPAddress.TryParse(parts[1], out var address) || address.ToString() != parts[1])
        {
            return $"\"{parts[1]}\" is not an IP address as Fabric names it (e.g. 198.18.1.10, 2001:db8::1), in \"{text}\"";
        }

        return null;
    }
}

/// <summary>One source id of a <see cref="SourceTable"/>: its name, what it was first seen with, and its counters.</summary>
public sealed class SourceInfo
{
    private long _frames;
    private long _bytes;
    private long _firstSeen;
    private long _lastSeen;

    internal SourceInfo(ushort id, SourceKey key, string name, string description)
    {
        Id = id;
        Key = key;
        Name = name;
        Description = description;
    }

    public ushort Id { get; }

    public SourceKey Key { get; }

    /// <summary>e.g. <c>erspan 198.18.1.10 session 7</c>; <c>other</c> for id 0.</summary>
    public string Name { get; }

    /// <summary>Outer addresses and the tunnel chain, e.g. <c>198.18.1.10 -&gt; 198.18.1.20, erspan-iii</c>, and the
    /// mirror session's name when the table was given one for this source
    /// (<c>198.18.1.10 -&gt; 198.18.1.20, erspan-iii; mirror session branch-12</c>).</summary>
    public string Description { get; }

    public long Frames => Volatile.Read(ref _frames);

    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>Packet time of the first frame, nanoseconds since the Unix epoch; 0 before any.</summary>
    public long FirstSeenNs => Volatile.Read(ref _firstSeen);

    public long LastSeenNs => Volatile.Read(ref _lastSeen);

    /// <summary>Counts one frame (the table's one writer thread only).</summary>
    internal void Add(int bytes, long timestampNs)
    {
        if (_frames == 0)
        {
            Volatile.Write(ref _firstSeen, timestampNs);
        }

        Volatile.Write(ref _frames, _frames + 1);
        Volatile.Write(ref _bytes, _bytes + bytes);
        Volatile.Write(ref _lastSeen, timestampNs);
    }
}

/// <summary>
/// The source ids of one pipeline (or one <c>fabric decap</c> run): a small number per mirror session,
/// named after it. Bounded: past <see cref="MaxSources"/> sessions every new one is
/// <see cref="OtherId"/> and counted in <see cref="Overflowed"/>. One writer (the decap thread) calls
/// <see cref="Resolve"/>; any thread may read the entries (published after they are complete).
/// A lookup allocates nothing; a new source allocates its name once.
/// </summary>
public sealed class SourceTable
{
    /// <summary>Frames with no tunnel (passed through), and every session past the maximum.</summary>
    public const ushort OtherId = 0;

    /// <summary>The largest configurable maximum (a source id is 16 bits, pcapng interface ids 32).</summary>
    public const int Limit = 4096;

    /// <summary>Open addressing, linear probing: each slot holds a source id (0: empty), at least twice as many
    /// slots as ids, so a lookup is a cheap hash, one or two probes and a field-by-field key comparison.</summary>
    private readonly ushort[] _slots;
    private readonly int _mask;

    /// <summary>The key of each id (by id), compared in place on a lookup.</summary>
    private readonly SourceKey[] _keys;
    private readonly SourceInfo[] _entries;
    private readonly IReadOnlyDictionary<string, string>? _sessionNames;
    private int _count;
    private long _overflowed;

    /// <param name="maxSources">Most sessions with an id of their own (0-<see cref="Limit"/>).</param>
    /// <param name="sessionNames">Mirror session names by source name (<see cref="SourceKey.Name"/>), put in the
    /// description of the source when it first appears; null: none.</param>
    public SourceTable(int maxSources, IReadOnlyDictionary<string, string>? sessionNames = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSources, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxSources, Limit);
        MaxSources = maxSources;
        _sessionNames = sessionNames;
        _slots = new ushort[(int)global::System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(2 * (maxSources + 1)))];
        _mask = _slots.Length - 1;
        _keys = new SourceKey[maxSources + 1];
        _entries = new SourceInfo[maxSources + 1];
        _entries[OtherId] = new SourceInfo(OtherId, default, "other", "frames without a tunnel, and sessions past the table's maximum");
        _count = 1;
    }

    /// <summary>Most sessions with an id of their own.</summary>
    public int MaxSources { get; }

    /// <summary>Ids in use, <see cref="OtherId"/> included.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Frames of sessions that found the table full (counted under <see cref="OtherId"/>).</summary>
    public long Overflowed => Volatile.Read(ref _overflowed);

    /// <summary>The entry of <paramref name="id"/> (0 &lt;= id &lt; <see cref="Count"/>).</summary>
    public SourceInfo this[int id] => _entries[id];

    /// <summary>The source id of a decapsulated frame, counting it (frames, bytes, first/last seen).</summary>
    public ushort Resolve(in PacketMetadata md, int bytes, long timestampNs)
    {
        var key = SourceKey.Of(md);
        ushort id;
        if (key.Kind == EncapKind.None)
        {
            id = OtherId;
        }
        else
        {
            id = Find(key, out var slot);
            if (id == OtherId)
            {
                id = Add(key, slot, md);
            }
        }

        _entries[id].Add(bytes, timestampNs);
        return id;
    }

    /// <summary>A snapshot of the entries in id order (allocates; for reports).</summary>
    public IReadOnlyList<SourceInfo> Snapshot()
    {
        var count = Count;
        var list = new SourceInfo[count];
        Array.Copy(_entries, list, count);
        return list;
    }

    /// <summary>The id of <paramref name="key"/>, or <see cref="OtherId"/> with the empty slot where it would go.</summary>
    private ushort Find(in SourceKey key, out int slot)
    {
        var slots = _slots;
        var keys = _keys;
        var at = Hash(key) & _mask;
        while (true)
        {
            var id = slots[at];
            if (id == OtherId)
            {
                slot = at;
                return OtherId;
            }

            ref readonly var candidate = ref keys[id];
            if (candidate.Id == key.Id && candidate.Address == key.Address && candidate.Kind == key.Kind
                && candidate.IpVersion == key.IpVersion && candidate.HasId == key.HasId)
            {
                slot = at;
                return id;
            }

            at = (at + 1) & _mask;
        }
    }

    private static int Hash(in SourceKey key)
    {
        var address = (ulong)key.Address ^ (ulong)(key.Address >> 64);
        var h = (uint)address ^ (uint)(address >> 32) ^ (key.Id * 0x9E3779B1u) ^ ((uint)key.Kind << 24);
        h *= 0x85EBCA6Bu;
        return (int)(h ^ (h >> 15));
    }

    private ushort Add(SourceKey key, int slot, in PacketMetadata md)
    {
        if (_count > MaxSources)
        {
            Volatile.Write(ref _overflowed, _overflowed + 1);
            return OtherId;
        }

        var id = (ushort)_count;
        var destination = md.OuterDestinationAddress()?.ToString() ?? "?";
        var description = string.Create(CultureInfo.InvariantCulture, $"{key.AddressText()} -> {destination}, {md.ChainText()}");
        var name = key.Name();
        if (_sessionNames is not null && _sessionNames.TryGetValue(name, out var session))
        {
            description = string.Create(CultureInfo.InvariantCulture, $"{description}; mirror session {session}");
        }

        _entries[id] = new SourceInfo(id, key, name, description);
        _keys[id] = key;
        _slots[slot] = id;
        Volatile.Write(ref _count, id + 1);
        return id;
    }
}

/// <summary>What ERSPAN III says about a frame beyond its session: direction and switch time.</summary>
public static class ErspanTime
{
    /// <summary>ERSPAN III's hardware timestamp in nanoseconds by its granularity (Gra: 0 = 100 µs,
    /// 1 = 100 ns, 2 = IEEE 1588, taken as nanoseconds), or 0 when there is none (not type III,
    /// or Gra 3: platform-defined units). The field is the low 32 bits of the switch's clock, so the
    /// time is relative to the switch's epoch, not the Unix epoch.</summary>
    public static long SwitchNanoseconds(in PacketMetadata md)
    {
        if (md.ErspanType != 3)
        {
            return 0;
        }

        return md.ErspanGranularity switch
        {
            0 => md.ErspanTimestamp * 100_000L,
            1 => md.ErspanTimestamp * 100L,
            2 => md.ErspanTimestamp,
            _ => 0,
        };
    }

    /// <summary>pcapng epb_flags direction bits: 1 inbound (ERSPAN III D = 0, ingress), 2 outbound
    /// (D = 1, egress), 0 not known (no ERSPAN III layer).</summary>
    public static byte Direction(in PacketMetadata md)
        => md.ErspanType != 3 ? (byte)0 : md.ErspanDirection == 0 ? (byte)1 : (byte)2;
}
