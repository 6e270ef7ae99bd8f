using System.Diagnostics;
using System.Globalization;
using Fabric.Actors.Sinks;
using Fabric.Protocols.Pcap;

namespace Fabric.Benchmarks.Sinks;

/// <summary>
/// The TAP sink's write path alone, from frames already in memory: <c>write</c> mode is
/// <see cref="TapDevice.Write"/>, one write() per frame (TapSinkActor with io-uring = off); <c>ring</c> mode is
/// <see cref="TapDevice.WriteBatch"/> over batches of 1024 frames (the default). The same work as
/// bench/tap_writer.c and bench/tap_variants.c, so they are compared like for like by bench/tap-sink-bench.sh and
/// bench/tap-variants.sh. Prints frames/s and this process's CPU seconds per million frames.
/// Usage: <c>Fabric.Benchmarks tap-sink DEV FILE.pcap REPEAT [write|ring]</c>. Not a BenchmarkDotNet benchmark:
/// it measures a kernel device, one long run per invocation, alternated with the C writer.
/// </summary>
internal static class TapSinkThroughput
{
    public static int Run(string device, string file, int repeat, string mode = "write")
    {
        // Every frame of the file into one buffer, as a PacketBatch holds them.
        var buffer = new List<byte>();
        var offsets = new List<int>();
        var lengths = new List<int>();
        using (var reader = CaptureFileReader.Open(file))
        {
            while (reader.ReadNext(out var record) == CaptureReadStatus.Packet)
            {
                offsets.Add(buffer.Count);
                lengths.Add(record.CapturedLength);
                buffer.AddRange(record.Data.ToArray());
            }
        }

        var data = buffer.ToArray();
        using var tap = TapDevice.Open(device, 9000, persistent: true);
        long written = 0, errors = 0;
        var batches = new List<Fabric.Actors.DataPlane.PacketBatch>();
        for (int first = 0; first < offsets.Count; first += 1024)
        {
            var batch = Fabric.Actors.DataPlane.PacketBatch.CreateUnpooled(1024, 1024 * 9216);
            for (int i = first; i < Math.Min(first + 1024, offsets.Count); i++)
            {
                batch.TryAppend(data.AsSpan(offsets[i], lengths[i]), lengths[i], 0);
            }

            batches.Add(batch);
        }

        using var ring = mode == "ring" ? Fabric.Actors.Native.WriteRing.TryCreate(out int ringErrno) ?? throw new InvalidOperationException($"no io_uring: errno {ringErrno}") : null;
        var errnos = new int[1024];
        var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        for (int r = 0; r < repeat; r++)
        {
            foreach (var batch in batches)
            {
                if (ring is not null)
                {
                    tap.WriteBatch(ring, batch, 0, batch.Count, errnos, out _);
                    for (int i = 0; i < batch.Count; i++)
                    {
                        if (errnos[i] == 0)
                        {
                            written++;
                        }
                        else
                        {
                            errors++;
                        }
                    }

                    continue;
                }

                for (int i = 0; i < batch.Count; i++)
                {
                    if (tap.Write(batch.Packet(i)) == 0)
                    {
                        written++;
                    }
                    else
                    {
                        errors++;
                    }
                }
            }
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var cpuSeconds = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fabric-tap-sink mode={mode} frames={written} errors={errors} seconds={seconds:0.000} frames_per_s={written / seconds:0} cpu_s_per_m={cpuSeconds * 1e6 / Math.Max(1, written):0.000}"));
        return errors == 0 ? 0 : 1;
    }
}
