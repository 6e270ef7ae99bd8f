using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Fabric.Protocols.Decap;
using Fabric.Protocols.NodeStream;
using Fabric.Protocols.Ovsdb;
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
    public static readonly string[] Names = ["decap", "pcap", "ovsdb", "stream"];

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
            case "ovsdb":
                Ovsdb(input);
                break;
            case "stream":
                NodeStream(input);
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

    /// <summary>
    /// What a peer sends to a stream source (docs/stream-protocol.md), after the TLS handshake: records, read as the
    /// source reads them (header, the receiver's limits, payload, decode, frames). The first bad record ends the
    /// input as it would end the connection. Invariants: a decoded record yields exactly its frame count, each frame
    /// no longer than its original length, the bytes adding up to the raw length; the decoder's buffer stays within
    /// the limit.
    /// </summary>
    public static void NodeStream(ReadOnlySpan<byte> input)
    {
        const int limit = 1 << 20;
        using var decoder = new StreamRecordDecoder(limit);
        var rest = input;
        while (!rest.IsEmpty)
        {
            var status = StreamRecordHeader.TryRead(rest, out var header);
            if (status == StreamDecodeStatus.Ok)
            {
                status = decoder.Admit(header);
            }

            if (status != StreamDecodeStatus.Ok)
            {
                Check(header == default || status == StreamDecodeStatus.TooLarge, "a refused header was not zeroed");
                return;
            }

            rest = rest[StreamRecordHeader.Length..];
            if (rest.Length < header.PayloadLength)
            {
                return; // the connection ended in the middle of a record
            }

            status = decoder.Decode(header, rest[..header.PayloadLength], out var frames);
            rest = rest[header.PayloadLength..];
            if (status != StreamDecodeStatus.Ok)
            {
                Check(status is StreamDecodeStatus.BadPayload or StreamDecodeStatus.BadFrames or StreamDecodeStatus.TooLarge, $"unexpected outcome {status}");
                return;
            }

            int count = 0;
            long bytes = 0;
            foreach (var frame in frames)
            {
                Check(frame.Data.Length <= frame.OriginalLength, "frame longer than its original length");
                count++;
                bytes += StreamRecordHeader.FrameHeaderLength + frame.Data.Length;
            }

            Check(count == header.FrameCount, "frame count differs from the header");
            Check(bytes == header.RawLength, "frames do not add up to the raw length");
        }
    }

    /// <summary>
    /// What an OVSDB server sends, through the client's receive path. Byte 0 picks the read size
    /// (1 + byte 0, so messages are split across reads at every place); the rest is the byte stream
    /// from the server. Before any byte arrives the client has sent what <c>OvsdbSession</c> and the
    /// mirror agent send, so that replies with these ids reach real callbacks: 1 <c>get_schema</c>
    /// (its reply parsed into the schema of the replica, as the session does), 2 <c>monitor_cond</c>
    /// (its initial contents applied to the replica), 3 <c>list_dbs</c>, 4 <c>transact</c>, 5 <c>echo</c>.
    /// Every <c>update2</c> is applied to the replica, and at the end every column of every row is
    /// read through each accessor. The only failures allowed are <see cref="OvsdbException"/>s
    /// (a protocol error drops the connection; a request fails); anything else is a crash.
    /// </summary>
    public static void Ovsdb(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var readSize = 1 + input[0];
        var stream = input[1..];
        var schema = FallbackSchema;
        var replica = new OvsdbReplica(schema);
        var client = OvsdbClient.Unstarted(Stream.Null, new OvsdbClientOptions { InactivityProbe = TimeSpan.Zero, MaxMessageBytes = 1 << 16 }, "fuzz");
        client.SendRequest("get_schema", ["Open_vSwitch"], (result, _, _) =>
        {
            if (result is JsonObject o)
            {
                try
                {
                    schema = OvsdbSchema.Parse(o);
                    replica = new OvsdbReplica(schema);
                }
                catch (OvsdbProtocolException e)
                {
                    Check(e.Message.Length > 0, "empty schema error");
                }
            }
        });
        var monitor = client.MonitorCondAsync("Open_vSwitch", "fabric", new JsonObject { ["Mirror"] = new JsonArray() }, initial =>
        {
            replica.Clear();
            replica.Apply(initial);
        });

        // The replies of list_dbs and transact go through the same code as ListDatabasesAsync and
        // TransactAsync, but on the receive path itself: no thread-pool hop, so every execution is
        // deterministic and its coverage belongs to it.
        client.SendRequest("list_dbs", [], (result, error, failure) => Reply(error, failure, () => OvsdbClient.DatabasesFrom(result)));
        client.SendRequest("transact", ["Open_vSwitch", OvsdbJson.Comment("fuzz")], (result, error, failure) => Reply(error, failure, () => OvsdbClient.TransactResultsFrom(result, 1)));
        client.SendRequest("echo", ["fabric"], (_, error, failure) => Reply(error, failure, () => { }));
        client.Update2 += (_, updates) => replica.Apply(updates);
        try
        {
            while (!stream.IsEmpty)
            {
                var n = Math.Min(readSize, stream.Length);
                client.Receive(stream[..n]);
                stream = stream[n..];
            }
        }
        catch (OvsdbProtocolException e)
        {
            Check(e.Message.Length > 0, "empty protocol error");
        }

        foreach (var table in schema.Tables.Keys.Concat(FallbackSchema.Tables.Keys))
        {
            foreach (var row in replica.Table(table).Values)
            {
                foreach (var column in row.Columns.Keys)
                {
                    _ = row.GetString(column);
                    _ = row.GetBoolean(column);
                    _ = row.GetUuids(column);
                    _ = row.GetIntegers(column);
                    _ = row.GetStringMap(column);
                }
            }
        }

        // Closing fails whatever is still pending (synchronously, through the same callbacks).
        client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Check(monitor.IsCompleted, "monitor_cond has no outcome after the connection closed");
        try
        {
            monitor.GetAwaiter().GetResult();
        }
        catch (OvsdbException)
        {
            // a refusal the caller is told about: expected
        }
    }

    /// <summary>What a caller of the request would see: the reply's error, the closed connection, or the parsed result.</summary>
    private static void Reply(JsonNode? error, Exception? failure, Action parse)
    {
        try
        {
            if (failure is not null)
            {
                Check(failure is OvsdbException, "a request failed with something other than an OvsdbException");
                return;
            }

            if (error is not null)
            {
                throw OvsdbClient.ErrorFrom(error, null);
            }

            parse();
        }
        catch (OvsdbException)
        {
            // a refusal the caller is told about: expected
        }
    }

    /// <summary>
    /// The monitored tables of the mirror agent, with the kinds of vswitch.ovsschema (used until a schema reply parses).
    /// Lazy: instrumented code must not run before SharpFuzz has set up the coverage map (in a static
    /// initializer it would run when Program reads <see cref="Names"/>, and crash the fork server).
    /// </summary>
    private static readonly Lazy<OvsdbSchema> Fallback = new(() => OvsdbSchema.Parse(JsonNode.Parse("""
        {"name": "Open_vSwitch", "version": "8.5.0", "tables": {
          "Bridge": {"columns": {"name": {"type": "string"}, "ports": {"type": {"key": {"type": "uuid", "refTable": "Port"}, "min": 0, "max": "unlimited"}},
                                 "mirrors": {"type": {"key": {"type": "uuid", "refTable": "Mirror"}, "min": 0, "max": "unlimited"}}}},
          "Port": {"columns": {"name": {"type": "string"}, "interfaces": {"type": {"key": {"type": "uuid", "refTable": "Interface"}, "min": 1, "max": "unlimited"}},
                               "tag": {"type": {"key": {"type": "integer", "minInteger": 0, "maxInteger": 4095}, "min": 0, "max": 1}}}},
          "Interface": {"columns": {"name": {"type": "string"}, "ofport": {"type": {"key": "integer", "min": 0, "max": 1}},
                                    "external_ids": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}}}},
          "Mirror": {"columns": {"name": {"type": "string"}, "select_all": {"type": "boolean"},
                                 "select_src_port": {"type": {"key": {"type": "uuid", "refTable": "Port", "refType": "weak"}, "min": 0, "max": "unlimited"}},
                                 "output_port": {"type": {"key": {"type": "uuid", "refTable": "Port", "refType": "weak"}, "min": 0, "max": 1}},
                                 "external_ids": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}}}}}}
        """)!.AsObject()));

    private static OvsdbSchema FallbackSchema => Fallback.Value;

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
