using Fabric.Fuzz;
using Fabric.Protocols.Decap;
using Fabric.Protocols.Pcap;
using SharpFuzz;

// Fabric.Fuzz TARGET             run TARGET under afl-fuzz (input on stdin / @@ file)
// Fabric.Fuzz seed TARGET CORPUS OUT   write seed inputs for TARGET from the capture files under CORPUS
// Fabric.Fuzz time TARGET FILE N       mean time of one execution of TARGET over FILE (not instrumented)
if (args.Length >= 1 && args[0] == "seed")
{
    if (args.Length != 4)
    {
        Console.Error.WriteLine("usage: Fabric.Fuzz seed TARGET CORPUS-DIR OUT-DIR");
        return 2;
    }

    return Seeds.Write(args[1], args[2], args[3]);
}

if (args.Length == 4 && args[0] == "time")
{
    // Fabric.Fuzz time TARGET FILE N: mean wall time of one execution over N (uninstrumented), to size long runs.
    var bytes = File.ReadAllBytes(args[2]);
    var runs = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
    RunTarget(args[1], bytes);
    var clock = System.Diagnostics.Stopwatch.StartNew();
    for (var i = 0; i < runs; i++)
    {
        RunTarget(args[1], bytes);
    }

    Console.WriteLine(System.FormattableString.Invariant($"{args[1]} {Path.GetFileName(args[2])}: {clock.Elapsed.TotalMicroseconds / runs:0} us per execution"));
    return 0;
}

if (args.Length != 1 || (Array.IndexOf(FuzzTargets.Names, args[0]) < 0 && args[0] != ConfigFuzzTarget.Name))
{
    Console.Error.WriteLine($"usage: Fabric.Fuzz TARGET   (TARGET: {string.Join(", ", FuzzTargets.Names)}, {ConfigFuzzTarget.Name})");
    return 2;
}

var target = args[0];
Fuzzer.OutOfProcess.Run(stream =>
{
    using var memory = new MemoryStream();
    stream.CopyTo(memory);
    RunTarget(target, memory.GetBuffer().AsSpan(0, (int)memory.Length));
});
return 0;

static void RunTarget(string target, ReadOnlySpan<byte> input)
{
    if (target == ConfigFuzzTarget.Name)
    {
        ConfigFuzzTarget.Run(input);
    }
    else
    {
        FuzzTargets.Run(target, input);
    }
}

/// <summary>Seed inputs from real captures (written to a temp dir by run-fuzz.sh, not committed).</summary>
internal static class Seeds
{
    public static int Write(string target, string corpus, string output)
    {
        Directory.CreateDirectory(output);
        if (target is "ovsdb" or ConfigFuzzTarget.Name)
        {
            // Not from captures: run-fuzz.sh copies seeds/ovsdb, and hocon/fabric.conf with hocon/examples for hocon.
            Console.WriteLine($"0 {target} seeds from the capture corpus (committed seeds only)");
            return 0;
        }

        var written = 0;
        foreach (var file in Directory.EnumerateFiles(corpus, "*.pcap*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            if (target == "stream")
            {
                written += StreamSeeds(file, output, name);
                continue;
            }

            if (target == "pcap")
            {
                // Whole small files; the first 2 KiB of bigger ones (a torn tail is a case too).
                var bytes = File.ReadAllBytes(file);
                File.WriteAllBytes(Path.Combine(output, name), bytes[..Math.Min(bytes.Length, 2048)]);
                written++;
                // And what the pcapng sink writes from it (an interface per mirror session, epb_flags).
                var sink = PcapNgAsTheSinkWrites(file);
                if (sink is not null)
                {
                    File.WriteAllBytes(Path.Combine(output, name + "-sink.pcapng"), sink[..Math.Min(sink.Length, 4096)]);
                    written++;
                }

                continue;
            }

            // decap: the first three distinct-length frames of each capture, policy byte 0 or 1 (raw IP).
            using var reader = CaptureFileReader.Open(file);
            var lengths = new HashSet<int>();
            while (lengths.Count < 3 && reader.ReadNext(out var record) == CaptureReadStatus.Packet)
            {
                if (record.CapturedLength > 1500 || !lengths.Add(record.CapturedLength))
                {
                    continue;
                }

                var seed = new byte[3 + record.CapturedLength];
                seed[0] = record.LinkType == LinkTypes.Ethernet ? (byte)0x30 : (byte)0x31;
                seed[1] = (byte)(record.CapturedLength >> 8);
                seed[2] = (byte)record.CapturedLength;
                record.Data.CopyTo(seed.AsSpan(3));
                File.WriteAllBytes(Path.Combine(output, $"{name}-{lengths.Count}"), seed);
                written++;
            }
        }

        Console.WriteLine($"{written} {target} seeds in {output}");
        return written > 0 ? 0 : 1;
    }

    /// <summary>stream: the first 20 frames of a capture as one record per compression (none, lz4, zstd), two records each.</summary>
    private static int StreamSeeds(string file, string output, string name)
    {
        var frames = new List<(byte[] Data, int Original, long Time)>();
        using (var reader = CaptureFileReader.Open(file))
        {
            while (frames.Count < 20 && reader.ReadNext(out var record) == CaptureReadStatus.Packet)
            {
                frames.Add((record.Data.ToArray(), Math.Max(record.OriginalLength, record.CapturedLength), record.TimestampNs));
            }
        }

        if (frames.Count == 0)
        {
            return 0;
        }

        int written = 0;
        foreach (var compression in new[] { Fabric.Protocols.NodeStream.StreamCompression.None, Fabric.Protocols.NodeStream.StreamCompression.Lz4, Fabric.Protocols.NodeStream.StreamCompression.Zstd })
        {
            using var encoder = new Fabric.Protocols.NodeStream.StreamRecordEncoder(compression, 1);
            using var seed = new MemoryStream();
            var buffer = Array.Empty<byte>();
            for (ulong sequence = 1; sequence <= 2; sequence++)
            {
                encoder.Reset();
                foreach (var (data, original, time) in frames)
                {
                    encoder.TryAdd(data, original, time);
                }

                int length = encoder.Finish(1, sequence, (sequence - 1) * (ulong)frames.Count, ref buffer);
                seed.Write(buffer, 0, length);
            }

            File.WriteAllBytes(Path.Combine(output, $"{name}-{compression.ToString().ToLowerInvariant()}"), seed.ToArray());
            written++;
        }

        return written;
    }

    /// <summary>The capture decapsulated and written as the PCAP sink's pcapng format does (source ids from a
    /// <see cref="SourceTable"/>, one interface each, ERSPAN III direction); null when nothing decapsulates.</summary>
    private static byte[]? PcapNgAsTheSinkWrites(string file)
    {
        var decapsulator = new Decapsulator(new DecapOptions());
        var sources = new SourceTable(64);
        var interfaceOf = new Dictionary<int, int>();
        using var stream = new MemoryStream();
        using (var writer = new PcapNgWriter(stream, nanoseconds: true, leaveOpen: true, bufferSize: 65536))
        {
            using var reader = CaptureFileReader.Open(file);
            while (reader.RecordCount < 64 && reader.ReadNext(out var record) == CaptureReadStatus.Packet)
            {
                if (record.LinkType != LinkTypes.Ethernet)
                {
                    continue;
                }

                var bytes = record.WritableData;
                var status = decapsulator.Decapsulate(bytes, 0, bytes.Length, Math.Max(record.OriginalLength, bytes.Length), record.TimestampNs,
                    out var result, out var md);
                if (status != DecapStatus.Ok)
                {
                    continue;
                }

                var id = sources.Resolve(md, result.Length, record.TimestampNs);
                if (!interfaceOf.TryGetValue(id, out var index))
                {
                    index = writer.AddInterface(LinkTypes.Ethernet, sources[id].Name, sources[id].Description);
                    interfaceOf[id] = index;
                }

                writer.Write(bytes.Slice(result.Offset, result.Length), index, record.TimestampNs, result.OriginalLength, ErspanTime.Direction(md));
            }
        }

        return interfaceOf.Count == 0 ? null : stream.ToArray();
    }
}
