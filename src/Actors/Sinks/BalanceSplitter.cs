using Fabric.Actors.DataPlane;
using Fabric.Protocols.Flows;

namespace Fabric.Actors.Sinks;

/// <summary>
/// The hot loop of a balance sink, apart from its actor (so the benchmark measures the same code): hashes each
/// frame of a batch (<see cref="FlowHasher"/>, symmetric) into one of <see cref="Buckets"/> buckets and appends the
/// frame's entry to the view of the bucket's member. A bucket's member is chosen by rendezvous over the members
/// that are up (<see cref="FlowHasher.Rendezvous"/>), once per change of the up-set, not per frame: a member
/// going down moves only its own buckets (each to its next-highest weight), and they come back with it. Nothing
/// is allocated; a view is taken from the caller's <c>rent</c> the first time a member gets a frame of the batch.
/// </summary>
public sealed class BalanceSplitter
{
    /// <summary>Buckets of the flow table: 4096, one byte each, so the two tables stay in L1; a member's share is
    /// a whole number of buckets (about 1,365 of them each for three members).</summary>
    public const int Buckets = 1 << BucketBits;

    private const int BucketBits = 12;
    private readonly ulong[] _seeds;
    private readonly byte[] _home = new byte[Buckets];
    private readonly byte[] _current = new byte[Buckets];
    private ulong _tableUp;

    /// <param name="seeds">One rendezvous seed per member (<see cref="BalanceSinkActor.Seed"/>), at most 64.</param>
    public BalanceSplitter(IReadOnlyList<ulong> seeds)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        ArgumentOutOfRangeException.ThrowIfLessThan(seeds.Count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(seeds.Count, BalanceSinkSettings.MaxMembers);
        _seeds = [.. seeds];
        ulong all = seeds.Count == 64 ? ulong.MaxValue : (1UL << seeds.Count) - 1;
        Fill(_home, all);
        _home.CopyTo(_current, 0);
        _tableUp = all;
    }

    public int Members => _seeds.Length;

    /// <summary>The member of a frame with flow hash <paramref name="hash"/> when the members of <paramref name="up"/> are up.</summary>
    public int MemberOf(ulong hash, ulong up)
    {
        if (up != _tableUp)
        {
            Fill(_current, up);
            _tableUp = up;
        }

        return _current[(int)(hash >> (64 - BucketBits))];
    }

    /// <summary>
    /// Splits the first <paramref name="count"/> frames of <paramref name="batch"/> into <paramref name="views"/>
    /// (one slot per member; null slots are filled from <paramref name="rent"/>), adding each frame's bytes to its
    /// member's <paramref name="bytes"/>. <paramref name="up"/> has bit m set when member m is up and must not be 0.
    /// Returns the frames given to another member than their own (the one they go to when all are up).
    /// </summary>
    public long Split(PacketBatch batch, int count, ulong up, PacketBatch?[] views, long[] bytes, Func<PacketBatch, PacketBatch> rent)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(views);
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(rent);
        if (up == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(up), "no member is up");
        }

        if (up != _tableUp)
        {
            Fill(_current, up);
            _tableUp = up;
        }

        var current = _current;
        var home = _home;
        var buffer = batch.Buffer;
        var offsets = batch.Offsets;
        var lengths = batch.CapturedLengths;
        long moved = 0;
        for (int p = 0; p < count; p++)
        {
            int length = lengths[p];
            ulong hash = FlowHasher.Hash(buffer.AsSpan(offsets[p], length));
            int bucket = (int)(hash >> (64 - BucketBits));
            int member = current[bucket];
            moved += member != home[bucket] ? 1 : 0;
            var view = views[member] ??= rent(batch);
            view.AppendEntry(batch, p);
            bytes[member] += length;
        }

        return moved;
    }

    /// <summary>Each bucket's member: the highest rendezvous weight of the bucket among the members of <paramref name="up"/>.</summary>
    private void Fill(byte[] table, ulong up)
    {
        for (int b = 0; b < table.Length; b++)
        {
            // The bucket's own hash: its number in the high bits, as frames' hashes pick it, mixed.
            ulong key = FlowHasher.Finish(((ulong)b << (64 - BucketBits)) | 0x5BD1E995UL);
            table[b] = (byte)FlowHasher.Rendezvous(key, _seeds, up);
        }
    }
}
