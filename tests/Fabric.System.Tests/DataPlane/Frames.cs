using Fabric.Protocols.Decap;
using Fabric.Protocols.Pcap;

namespace Fabric.System.Tests.DataPlane;

/// <summary>Frames of capture files, and the decapsulator applied to a file (the expected pipeline output).</summary>
internal static class Frames
{
    /// <summary>Whole records of a file (a torn last record of a file still being written is left out).</summary>
    public static List<byte[]> Read(string path)
    {
        var frames = new List<byte[]>();
        if (!File.Exists(path) || new FileInfo(path).Length < PcapWriter.FileHeaderLength)
        {
            return frames;
        }

        using var reader = CaptureFileReader.Open(path);
        while (reader.ReadNext(out var record) == CaptureReadStatus.Packet)
        {
            frames.Add(record.Data.ToArray());
        }

        return frames;
    }

    public static List<byte[]> Decapsulate(string path)
    {
        var decapsulator = new Decapsulator(new DecapOptions());
        var frames = new List<byte[]>();
        using var reader = CaptureFileReader.Open(path);
        while (reader.ReadNext(out var record) == CaptureReadStatus.Packet)
        {
            var buffer = record.Data.ToArray();
            var status = decapsulator.Decapsulate(buffer, 0, buffer.Length, record.OriginalLength, record.TimestampNs, out var result, out _);
            if (DecapStatusInfo.InReassemblyBuffer(status))
            {
                frames.Add(decapsulator.ReassembledFrame.ToArray());
            }
            else if (DecapStatusInfo.Emits(status))
            {
                frames.Add(buffer.AsSpan(result.Offset, result.Length).ToArray());
            }
        }

        return frames;
    }

    public static string Describe(IReadOnlyList<byte[]> frames) =>
        $"{frames.Count} frames: " + string.Join(" ", frames.Take(3).Select(f => Convert.ToHexString(f.AsSpan(0, Math.Min(f.Length, 24)))));
}
