using System.Buffers.Binary;
using Fabric.Protocols.Decap;
using Fabric.Protocols.Pcap;

namespace Fabric.Console.Commands;

/// <summary>
/// Decapsulates a stored capture into a classic pcap (or, with <see cref="DecapOutput.PcapNg"/>, a pcapng with one
/// interface per mirror session) of inner frames: the work behind
/// <c>fabric decap</c>, without any printing. The output is written to a temporary file beside
/// <c>OUT</c> and renamed over it at the end, so a failure never leaves a half-written OUT; when the
/// input is damaged mid-way, every good record before the damage is kept and the output is still a
/// valid pcap (the damage is reported in <see cref="DecapFileReport.InputProblem"/>).
/// Per packet: the decapsulator in place in the reader's buffer, one buffered write; no allocation.
/// </summary>
internal static class DecapFile
{
    /// <summary>Name of the outcome for records of a pcapng interface whose link type is neither Ethernet nor raw IP.</summary>
    public const string UnsupportedLinkTypeOutcome = "unsupported-link-type";

    /// <summary>Name of the outcome for Geneve frames with an unknown critical option that were written
    /// (<c>geneve.unknown-critical-options = forward</c>); they are also counted under <c>ok</c>.</summary>
    public const string GeneveUnknownCriticalForwardedOutcome = "geneve-unknown-critical-forwarded";

    /// <summary>
    /// Runs the job. Throws <see cref="ConsoleException"/> (exit 2) for bad input or an unwritable
    /// output; <see cref="OperationCanceledException"/> when <paramref name="cancellation"/> fires
    /// (Ctrl-C), after removing the temporary file.
    /// </summary>
    public static DecapFileReport Run(string input, string output, DecapOptions options, CancellationToken cancellation = default,
        DecapOutput? format = null)
    {
        var outputFormat = format ?? new DecapOutput();
        var inputPath = Path.GetFullPath(input);
        var outputPath = Path.GetFullPath(output);
        if (!File.Exists(inputPath))
        {
            throw new ConsoleException(Directory.Exists(inputPath) ? $"{input}: is a directory, not a capture file" : $"{input}: no such file", ExitCodes.Usage);
        }

        if (Directory.Exists(outputPath))
        {
            throw new ConsoleException($"{output}: is a directory; give the output file's name", ExitCodes.Usage);
        }

        if (string.Equals(inputPath, outputPath, StringComparison.Ordinal))
        {
            throw new ConsoleException($"{output}: the output would overwrite the input; choose another file", ExitCodes.Usage);
        }

        using var reader = OpenInput(input);
        if (reader.Interfaces.Count > 0 && ToLinkLayer(reader.LinkType) is null)
        {
            throw new ConsoleException(
                $"{input}: unsupported link type {reader.LinkType} ({LinkTypes.Name(reader.LinkType)}); fabric decap reads ETHERNET and RAW captures",
                ExitCodes.Usage);
        }

        var nanoseconds = reader.Interfaces.Count > 0 && reader.Interfaces[0].FinerThanMicroseconds;
        var temporary = TemporaryPathBeside(outputPath);
        ICaptureFileWriter writer;
        try
        {
            writer = outputFormat.PcapNg
                ? PcapNgWriter.Create(temporary, nanoseconds)
                : PcapWriter.Create(temporary, LinkTypes.Ethernet, nanoseconds: nanoseconds);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new ConsoleException($"{output}: cannot write: directory {Path.GetDirectoryName(outputPath)} does not exist", ExitCodes.Usage, e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new ConsoleException($"{output}: cannot write: permission denied in {Path.GetDirectoryName(outputPath)}", ExitCodes.Usage, e);
        }
        catch (IOException e)
        {
            throw new ConsoleException($"{output}: cannot write: {OneLine(e.Message)}", ExitCodes.Usage, e);
        }

        try
        {
            var counts = new long[DecapStatusInfo.Count];
            long unsupportedLinkType = 0;
            long unknownCriticalForwarded = 0;
            var sources = new SourceTable(outputFormat.MaxSources);
            var frames = new FrameOutput(writer, sources, outputFormat.SwitchTimestamps);
            CaptureReadStatus status;
            using (writer)
            {
                var decapsulator = new Decapsulator(options);
                var ethernetScratch = Array.Empty<byte>();
                while ((status = reader.ReadNext(out var record)) == CaptureReadStatus.Packet)
                {
                    if ((reader.RecordCount & 0xFFFF) == 0)
                    {
                        cancellation.ThrowIfCancellationRequested();
                    }

                    var linkLayer = ToLinkLayer(record.LinkType);
                    if (linkLayer is null)
                    {
                        unsupportedLinkType++;
                        continue;
                    }

                    // In place, in the reader's buffer: the record is ours until the next read.
                    var frameBytes = record.WritableData;
                    var decap = decapsulator.Decapsulate(
                        frameBytes, 0, frameBytes.Length, Math.Max(record.OriginalLength, frameBytes.Length), record.TimestampNs,
                        linkLayer.Value, out var result, out var metadata);
                    counts[(int)decap]++;
                    if (!DecapStatusInfo.Emits(decap))
                    {
                        continue;
                    }

                    if (metadata.GeneveUnknownCritical)
                    {
                        unknownCriticalForwarded++;
                    }

                    var frame = DecapStatusInfo.InReassemblyBuffer(decap)
                        ? decapsulator.ReassembledFrame
                        : frameBytes.Slice(result.Offset, result.Length);
                    if (linkLayer == LinkLayer.RawIp && decap is DecapStatus.PassedThrough or DecapStatus.ReassembledPassedThrough)
                    {
                        // A raw IP packet passed through unchanged: OUT is Ethernet, so give it a header.
                        var length = WithEthernetHeader(frame, options, ref ethernetScratch);
                        frames.Write(ethernetScratch.AsSpan(0, length), record.TimestampNs, result.OriginalLength + EthernetHeaderLength, metadata);
                        continue;
                    }

                    frames.Write(frame, record.TimestampNs, result.OriginalLength, metadata);
                }
            }

            File.Move(temporary, outputPath, overwrite: true);

            var outcomes = new List<KeyValuePair<string, long>>();
            for (var i = 0; i < counts.Length; i++)
            {
                if (counts[i] != 0)
                {
                    outcomes.Add(new(DecapStatusInfo.Name((DecapStatus)i), counts[i]));
                }
            }

            if (unsupportedLinkType != 0)
            {
                outcomes.Add(new(UnsupportedLinkTypeOutcome, unsupportedLinkType));
            }

            if (unknownCriticalForwarded != 0)
            {
                outcomes.Add(new(GeneveUnknownCriticalForwardedOutcome, unknownCriticalForwarded));
            }

            return new DecapFileReport(
                input,
                output,
                reader.Format == CaptureFileFormat.PcapNg ? "pcapng" : "pcap",
                reader.RecordCount,
                writer.RecordCount,
                outcomes,
                status == CaptureReadStatus.EndOfFile ? null : reader.Problem,
                outputFormat.PcapNg ? "pcapng" : "pcap",
                outputFormat.PcapNg ? [.. sources.Snapshot().Where(s => s.Frames > 0).Select(s => new KeyValuePair<string, long>(s.Name, s.Frames))] : []);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw new ConsoleException($"{output}: writing failed: {OneLine(e.Message)}", ExitCodes.Failed, e);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private const int EthernetHeaderLength = 14;

    /// <summary>Writes one emitted frame: classic pcap as it is; pcapng on its source's interface (described the
    /// first time), with the ERSPAN III direction and, when asked, the switch's time.</summary>
    private sealed class FrameOutput(ICaptureFileWriter writer, SourceTable sources, bool switchTimestamps)
    {
        private readonly PcapWriter? _classic = writer as PcapWriter;
        private readonly PcapNgWriter? _ng = writer as PcapNgWriter;
        private readonly int[] _interfaceOf = Enumerable.Repeat(-1, SourceTable.Limit + 1).ToArray();

        public void Write(ReadOnlySpan<byte> frame, long timestampNs, int originalLength, in PacketMetadata metadata)
        {
            if (_classic is not null)
            {
                _classic.Write(frame, timestampNs, originalLength);
                return;
            }

            var id = sources.Resolve(metadata, frame.Length, timestampNs);
            var index = _interfaceOf[id];
            if (index < 0)
            {
                index = _ng!.AddInterface(LinkTypes.Ethernet, sources[id].Name, sources[id].Description);
                _interfaceOf[id] = index;
            }

            var time = timestampNs;
            var switchTime = ErspanTime.SwitchNanoseconds(metadata);
            if (switchTimestamps && switchTime != 0)
            {
                time = switchTime;
            }

            _ng!.Write(frame, index, time, originalLength, ErspanTime.Direction(metadata));
        }
    }

    /// <summary>Copies an IP packet behind a synthesized Ethernet header (the decapsulator's MACs) into a reused buffer.</summary>
    private static int WithEthernetHeader(ReadOnlySpan<byte> ip, DecapOptions options, ref byte[] scratch)
    {
        var length = EthernetHeaderLength + ip.Length;
        if (scratch.Length < length)
        {
            scratch = new byte[Math.Max(length, CaptureFileReader.DefaultMaxRecordLength + EthernetHeaderLength)];
        }

        options.SynthesizedDestinationMac.WriteTo(scratch);
        options.SynthesizedSourceMac.WriteTo(scratch.AsSpan(6));
        var etherType = !ip.IsEmpty && ip[0] >> 4 == 6 ? (ushort)0x86DD : (ushort)0x0800;
        BinaryPrimitives.WriteUInt16BigEndian(scratch.AsSpan(12), etherType);
        ip.CopyTo(scratch.AsSpan(EthernetHeaderLength));
        return length;
    }

    private static CaptureFileReader OpenInput(string input)
    {
        try
        {
            return CaptureFileReader.Open(input);
        }
        catch (CaptureFileException e)
        {
            throw new ConsoleException(e.Message, ExitCodes.Usage, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConsoleException($"{input}: cannot read: {OneLine(e.Message)}", ExitCodes.Usage, e);
        }
    }

    private static LinkLayer? ToLinkLayer(uint linkType) => linkType switch
    {
        LinkTypes.Ethernet => LinkLayer.Ethernet,
        LinkTypes.Raw or LinkTypes.IPv4 or LinkTypes.IPv6 => LinkLayer.RawIp,
        _ => null,
    };

    private static string TemporaryPathBeside(string outputPath)
    {
        var directory = Path.GetDirectoryName(outputPath) ?? ".";
        return Path.Combine(directory, $".{Path.GetFileName(outputPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.partial");
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Nothing more can be done; the temporary name starts with a dot and says .partial.
        }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}

/// <summary>What <c>fabric decap</c> did; printed as a table or JSON.</summary>
/// <param name="Input">The input as given.</param>
/// <param name="Output">The output as given.</param>
/// <param name="Format">"pcap" or "pcapng".</param>
/// <param name="Records">Records read from the input.</param>
/// <param name="Written">Frames written to the output.</param>
/// <param name="Outcomes">Records per outcome name (decapsulator statuses in kebab-case, plus unsupported-link-type), non-zero only.</param>
/// <param name="InputProblem">Why the input ended early (damaged or cut short), or null.</param>
/// <param name="OutputFormat">"pcap" or "pcapng".</param>
/// <param name="Sources">pcapng: frames written per source id (mirror session) name, id order.</param>
internal sealed record DecapFileReport(
    string Input,
    string Output,
    string Format,
    long Records,
    long Written,
    IReadOnlyList<KeyValuePair<string, long>> Outcomes,
    string? InputProblem,
    string OutputFormat = "pcap",
    IReadOnlyList<KeyValuePair<string, long>>? Sources = null);

/// <summary>What <c>fabric decap</c> writes: classic pcap, or pcapng with an interface per source id.</summary>
/// <param name="PcapNg"><c>--format pcapng</c>.</param>
/// <param name="SwitchTimestamps"><c>--timestamps switch</c> (pcapng only): ERSPAN III's hardware time.</param>
/// <param name="MaxSources">Sessions with an interface of their own; later ones share "other".</param>
internal sealed record DecapOutput(bool PcapNg = false, bool SwitchTimestamps = false, int MaxSources = 256);
