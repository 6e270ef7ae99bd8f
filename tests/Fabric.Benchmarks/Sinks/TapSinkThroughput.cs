using System.Diagnostics;
using System.Globalization;
using Fabric.Actors.Sinks;
using Fabric.Protocols.Pcap;

namespace Fabric.Benchmarks.Sinks;

/// <summary>
/// The TAP sink's write path alone (<see cref="TapDevice.Write"/>, one write() per frame, as
/// TapSinkActor does for every frame of a batch), from frames already in memory: the same work as
/// bench/tap_writer.c, so the two are compared like for like by bench/tap-sink-bench.sh.
/// Usage: <c>Fabric.Benchmarks tap-sink DEV FILE.pcap REPEAT</c>. Not a BenchmarkDotNet benchmark:
/// it measures a kernel device, one long run per invocation, alternated with the C writer.
/// </summary>
internal static class TapSinkThroughput
{
    public static int Run(string device, string file, int repeat)
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
        var clock = Stopwatch.StartNew();
        for (int r = 0; r < repeat; r++)
        {
            for (int i = 0; i < offsets.Count; i++)
            {
                if (tap.Write(data.AsSpan(offsets[i], lengths[i])) == 0)
                {
                    written++;
                }
                else
                {
                    errors++;
                }
            }
        }

        var seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fabric-tap-sink frames={written} errors={errors} seconds={seconds:0.000} frames_per_s={written / seconds:0}"));
        return errors == 0 ? 0 : 1;
    }
}
