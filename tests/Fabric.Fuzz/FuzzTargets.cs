using System.Buffers.Binary;
using Fabric.Protocols.Decap;
using Fabric.Protocols.Pcap;

namespace Fabric.Fuzz;

/// <summary>
/// The fuzz targets, without SharpFuzz: <c>Program</c> runs them under AFL++, and
/// Fabric.Protocols.Tests replays every file of regressions/ through them (this file is linked into
/// that project). A target returns normally for any input, however bad; an exception or a broken
/// invariant (<see cref="FuzzInvariantException"/>) is a crash.
/// </summary>
public static class FuzzTargets
{
    /// <summary>Target names, as given to the fuzz executable and to run-fuzz.sh.</summary>
    public static readonly string[] Names = ["decap", "pcap"];

    public static void Run(string target, ReadOnlySpan<byte> input)
    {
        switch (target)
        {
            case "decap":
                Decap(input);
                break;
            case "pcap":
                Pcap(input);
                break;
            default:
                throw new ArgumentException($"unknown fuzz target '{target}' (known: {string.Join(", ", Names)})", nameof(target));
        }
    }

    /// <summary>
    /// Raw frames through the decapsulator. Byte 0 picks the policy (bit 0 raw IP instead of
    /// Ethernet, bit 1 pass non-tunnel traffic, bit 2 retag, bit 3 strict VXLAN, bits 4-6 max depth);
    /// the rest is one or more frames, each as a 2-byte big-endian length and its bytes (a length
    /// running past the end takes what is left), fed to one decapsulator so that outer fragments
    /// meet in reassembly.
    /// </summary>
    public static void Decap(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var policy = input[0];
        var options = new DecapOptions
        {
            NonEncapsulated = (policy & 2) != 0 ? NonEncapsulatedPolicy.Pass : NonEncapsulatedPolicy.Drop,
            ErspanVlan = (policy & 4) != 0 ? ErspanVlanPolicy.Retag : ErspanVlanPolicy.Metadata,
            VxlanReservedBits = (policy & 8) != 0 ? ReservedBitsPolicy.Strict : ReservedBitsPolicy.Permissive,
            MaxDepth = 1 + ((policy >> 4) & 7),
        };
        var link = (policy & 1) != 0 ? LinkLayer.RawIp : LinkLayer.Ethernet;
        var decapsulator = new Decapsulator(options);
        var buffer = new byte[input.Length + 64];
        var rest = input[1..];
        long time = 0;
        while (!rest.IsEmpty)
        {
            int length;
            if (rest.Length >= 2)
            {
                length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(rest), rest.Length - 2);
                rest = rest[2..];
            }
            else
            {
                length = rest.Length;
            }

            // Frames sit 32 bytes into the buffer, with room behind them, as in a capture batch.
            rest[..length].CopyTo(buffer.AsSpan(32));
            rest = rest[length..];
            time += 1_000_000;
            DecapOne(decapsulator, buffer, 32, length, length + (length & 3), time, link);
        }
    }

    /// <summary>A whole capture file through the reader, and every record through the decapsulator.</summary>
    public static void Pcap(ReadOnlySpan<byte> input)
    {
        CaptureFileReader reader;
        try
        {
            reader = CaptureFileReader.Open(new MemoryStream(input.ToArray()), leaveOpen: false, "fuzz", bufferSize: 4096, maxRecordLength: 65_536);
        }
        catch (CaptureFileException e)
        {
            Check(e.Message.Length > 0 && !e.Message.Contains('\n', StringComparison.Ordinal), "open error is not one line");
            return;
        }

        using (reader)
        {
            var decapsulator = new Decapsulator(new DecapOptions());
            var buffer = new byte[65_536 + 64];
            CaptureReadStatus status;
            long previous = -1;
            while ((status = reader.ReadNext(out var record)) == CaptureReadStatus.Packet)
            {
                Check(record.CapturedLength <= 65_536, "record beyond the cap");
                Check(reader.RecordCount > previous, "record count did not advance");
                previous = reader.RecordCount;
                record.Data.CopyTo(buffer);
                var link = record.LinkType == LinkTypes.Ethernet ? LinkLayer.Ethernet : LinkLayer.RawIp;
                DecapOne(decapsulator, buffer, 0, record.CapturedLength, Math.Max(record.OriginalLength, record.CapturedLength), record.TimestampNs, link);
            }

            Check(status == CaptureReadStatus.EndOfFile ? reader.Problem is null : reader.Problem is { Length: > 0 }, "status and problem disagree");
            Check(reader.ReadNext(out _) == status, "terminal status changed");
        }
    }

    private static void DecapOne(Decapsulator decapsulator, byte[] buffer, int offset, int length, int originalLength, long time, LinkLayer link)
    {
        var status = decapsulator.Decapsulate(buffer, offset, length, originalLength, time, link, out var result, out var metadata);
        Check((uint)status < DecapStatusInfo.Count, "status out of range");
        Check(metadata.Depth <= PacketMetadata.MaxChain, "depth beyond the chain");
        if (!DecapStatusInfo.Emits(status))
        {
            return;
        }

        var space = DecapStatusInfo.InReassemblyBuffer(status) ? decapsulator.ReassembledFrame.Length : buffer.Length;
        if (DecapStatusInfo.InReassemblyBuffer(status))
        {
            Check(result.Length == decapsulator.ReassembledFrame.Length, "reassembled frame length differs from the result");
        }
        else
        {
            Check(result.Offset >= 0 && result.Length >= 0 && result.Offset + result.Length <= space, "result outside the buffer");
        }

        Check(result.OriginalLength >= result.Length, "original length below captured length");
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(what);
        }
    }
}

/// <summary>A fuzz target found a broken invariant (a bug, reported as a crash).</summary>
public sealed class FuzzInvariantException : Exception
{
    public FuzzInvariantException()
    {
    }

    public FuzzInvariantException(string message)
        : base(message)
    {
    }

    public FuzzInvariantException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
