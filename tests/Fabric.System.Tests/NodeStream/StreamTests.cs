using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Fabric.Protocols.NodeStream;
using Fabric.Protocols.Pcap;
using Fabric.System.Tests.DataPlane;
using Fabric.System.Tests.Reliability;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.System.Tests.NodeStream;

/// <summary>
/// The stream sink and source between fabric-node processes in their own namespaces (<see cref="StreamFixture"/>):
/// delivery byte for byte with timestamps and lengths, TLS refusal of another CA, a 10 s link cut with the loss
/// accounted on both sides, and hostile peers. Needs root.
/// </summary>
[Collection(StreamCollection.Name)]
public sealed class StreamTests(StreamFixture net, ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void B_gets_what_A_decapsulated_byte_for_byte_in_order_with_timestamps_and_lengths_and_a_node_of_another_CA_gets_nothing()
    {
        WaitConnected();
        var aBefore = Records(net.APcap).Count;
        var bBefore = Records(net.BPcap).Count;
        using var tap = new Tcpdump(net.Tap, Path.Combine(net.Directory, $"tap-{Guid.NewGuid():N}.pcap"), net.BNs, "-j adapter_unsynced --time-stamp-precision=nano");
        const int count = 600;
        net.SendInner(count);

        List<Rec> sent = [];
        List<Rec> received = [];
        Shell.WaitUntil(() =>
        {
            sent = Records(net.APcap)[aBefore..];
            received = Records(net.BPcap)[bBefore..];
            return sent.Count >= count && received.Count >= sent.Count && Records(tap.File).Count >= sent.Count;
        }, Timeout, () => $"A wrote {sent.Count}, B {received.Count}, B's TAP {Records(tap.File).Count}; A: {net.A.Stats("edge")["stream-1"].Describe()}; B: {net.B.Stats("central")["capture"].Describe()}");
        tap.Stop();

        Assert.Equal(count, sent.Count);
        Assert.Equal(sent.Count, received.Count);
        for (int i = 0; i < sent.Count; i++)
        {
            Assert.True(sent[i].Data.AsSpan().SequenceEqual(received[i].Data), $"frame {i} differs");
            Assert.Equal(sent[i].TimestampNs, received[i].TimestampNs);
            Assert.Equal(sent[i].OriginalLength, received[i].OriginalLength);
        }

        var onTap = Records(tap.File);
        Assert.Equal(sent.Count, onTap.Count);
        for (int i = 0; i < sent.Count; i++)
        {
            Assert.True(sent[i].Data.AsSpan().SequenceEqual(onTap[i].Data), $"TAP frame {i} differs");
        }

        // The node with the other CA's certificate: refused at every handshake, logged once, never a frame.
        var toRogue = net.A.Stats("edge")["stream-2"];
        Assert.True(toRogue.Events["tls-refused"] >= 2, toRogue.Describe());
        Assert.Equal(0, toRogue.Out);
        Assert.Equal(0, toRogue.Events["connects"]);
        Assert.Equal(0, net.C.Stats("rogue")["capture"].In);
        Assert.Equal(1, File.ReadLines(net.A.Log).Count(l => l.Contains("Stream stream-2: refused the certificate", StringComparison.Ordinal)));
        Assert.Contains("does not chain to fabric.remote.tls.ca-file", File.ReadAllText(net.A.Log), StringComparison.Ordinal);
        Assert.Contains("fabric_pipeline_events_total{pipeline=\"central\",stage=\"capture\",event=\"records\"}", net.B.Get("metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_10_s_cut_of_the_link_is_counted_on_both_sides_conservation_holds_and_the_stream_resumes_by_itself()
    {
        WaitConnected();
        var aBefore = net.A.Stats("edge")["stream-1"];
        var bBefore = net.B.Stats("central")["capture"];
        using var sending = new CancellationTokenSource();
        var sender = Task.Run(() =>
        {
            int first = 0;
            while (!sending.IsCancellationRequested)
            {
                // Incompressible, about 4 MB/s: more than A's socket buffers hold over 10 s, so the cut costs frames.
                net.SendInner(200, first, random: true);
                first += 200;
            }
        });
        try
        {
            Shell.WaitUntil(() => net.A.Stats("edge")["stream-1"].Out > aBefore.Out + 500, Timeout, () => net.A.Stats("edge")["stream-1"].Describe());
            Shell.InNamespace(net.ANs, $"ip link set {net.ALink} down");
            try
            {
                Thread.Sleep(TimeSpan.FromSeconds(10)); // the cut itself is the thing under test
            }
            finally
            {
                Shell.InNamespace(net.ANs, $"ip link set {net.ALink} up");
            }

            var atReconnect = net.B.Stats("central")["capture"].In;
            Shell.WaitUntil(() => net.B.Stats("central")["capture"].In > atReconnect + 1000, Timeout,
                () => $"B: {net.B.Stats("central")["capture"].Describe()}; A: {net.A.Stats("edge")["stream-1"].Describe()}");
        }
        finally
        {
            await sending.CancelAsync();
            await sender;
        }

        // Quiet again: A's sink has written or dropped everything, B has read everything A wrote (or counted it lost).
        StageView a = null!;
        StageView b = null!;
        Shell.WaitUntil(() =>
        {
            a = net.A.Stats("edge")["stream-1"];
            b = net.B.Stats("central")["capture"];
            // Conservation across the two nodes over the test: sent by A = received by B + lost in transit as B saw it.
            return a.In == a.Out + a.DroppedTotal
                && a.Out - aBefore.Out == (b.In - bBefore.In) + (b.Events["lost-in-transit"] - bBefore.Events["lost-in-transit"]);
        }, Timeout, () => $"A {a?.Describe()}; B {b?.Describe()}");

        output.WriteLine($"A before: {aBefore.Describe()}");
        output.WriteLine($"A after:  {a.Describe()}");
        output.WriteLine($"B before: {bBefore.Describe()}");
        output.WriteLine($"B after:  {b.Describe()}");
        long dropped = a.Dropped["send-buffer-full"] + a.Dropped["disconnected"] - aBefore.Dropped["send-buffer-full"] - aBefore.Dropped["disconnected"];
        Assert.True(dropped > 0, $"A counted no drops during the cut: {a.Describe()}");
        // Resumed by itself: B took 1,000 more frames after the link came back (waited for above). Whether that was on
        // a new connection (A's write timed out: disconnects, connects, resent) or on the same one (TCP retransmitted
        // after the link came back) depends on how much A's socket buffer took during the cut; both happen here.
        Assert.Equal(a.Events["connects"] - aBefore.Events["connects"], a.Events["disconnects"] - aBefore.Events["disconnects"]);
        Assert.True(net.A.Stats("edge").Balanced);
        Assert.True(net.B.Stats("central").Balanced);
    }

    [Theory]
    [InlineData("bad-version")]
    [InlineData("too-large")]
    [InlineData("bad-payload")]
    [InlineData("zip-bomb")]
    [InlineData("bad-frames")]
    public void A_hostile_peer_is_closed_and_counted_by_name_and_B_keeps_serving(string attack)
    {
        string counted = attack == "zip-bomb" ? "bad-payload" : attack;
        long before = net.B.Stats("central")["capture"].Events[counted];
        using (var tls = Connect("hostile"))
        {
            tls.Write(Hostile(attack));
            tls.Flush();
            Assert.True(Closed(tls), $"B did not close the connection after {attack}");
        }

        Assert.Equal(before + 1, net.B.Stats("central")["capture"].Events[counted]);

        // The node keeps serving: a good record on a new connection is delivered.
        long inBefore = net.B.Stats("central")["capture"].In;
        using (var tls = Connect("hostile"))
        {
            tls.Write(GoodRecord(5));
            tls.Flush();
            Shell.WaitUntil(() => net.B.Stats("central")["capture"].In == inBefore + 5, Timeout, () => net.B.Stats("central")["capture"].Describe());
        }

        Assert.False(net.B.Process.HasExited);
    }

    [Fact]
    public void A_sender_with_a_certificate_of_another_CA_is_refused_at_the_handshake()
    {
        var capture = net.B.Stats("central")["capture"];
        long before = capture.Events["tls-refused"];
        bool refused;
        try
        {
            // TLS 1.3: the client may finish its side before the server has checked the client's certificate;
            // the refusal then arrives as an alert or a closed connection on the first read.
            using var tls = Connect("c");
            tls.Write(GoodRecord(1));
            tls.Flush();
            refused = Closed(tls);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            refused = true;
        }

        Assert.True(refused, "B kept the connection of a sender whose certificate is of another CA");
        Shell.WaitUntil(() => net.B.Stats("central")["capture"].Events["tls-refused"] == before + 1, Timeout,
            () => net.B.Stats("central")["capture"].Describe());
        Assert.Equal(capture.In, net.B.Stats("central")["capture"].In);
    }

    private void WaitConnected() =>
        Shell.WaitUntil(() => net.A.Stats("edge")["stream-1"].Events["connects"] >= 1 && net.A.Stats("edge")["stream-2"].Events["tls-refused"] >= 2,
            Timeout, () => $"{net.A.Stats("edge")["stream-1"].Describe()}; {net.A.Stats("edge")["stream-2"].Describe()}");

    private SslStream Connect(string certificate)
    {
        var client = new TcpClient();
        client.Connect(net.BHostileAddress, 7400);
        var tls = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
        var own = X509Certificate2.CreateFromPemFile(net.Certificate(certificate), net.Key(certificate));
        tls.ReadTimeout = 10_000;
        tls.AuthenticateAsClient(new SslClientAuthenticationOptions
        {
            TargetHost = StreamTls.ServerName,
            EnabledSslProtocols = SslProtocols.Tls13,
            ClientCertificates = [X509CertificateLoader.LoadPkcs12(own.Export(X509ContentType.Pkcs12), null)],
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });
        return tls;
    }

    /// <summary>True when the peer closes the connection (end of stream or reset) within the read timeout.</summary>
    private static bool Closed(SslStream tls)
    {
        try
        {
            var buffer = new byte[16];
            return tls.Read(buffer) == 0;
        }
        catch (IOException e) when (e.InnerException is not SocketException { SocketErrorCode: SocketError.TimedOut })
        {
            return true;
        }
        catch (AuthenticationException)
        {
            return true;
        }
    }

    private static byte[] GoodRecord(int frames)
    {
        using var encoder = new StreamRecordEncoder(StreamCompression.Lz4, 0);
        var frame = new byte[60];
        frame.AsSpan(0, 12).Fill(0xEE);
        for (int i = 0; i < frames; i++)
        {
            Assert.True(encoder.TryAdd(frame, 60, 1_700_000_000_000_000_000L + i));
        }

        var output = Array.Empty<byte>();
        int length = encoder.Finish((ulong)Random.Shared.NextInt64(), 1, 0, ref output);
        return output[..length];
    }

    /// <summary>The attacks of issue 14: a wrong version; a length of 2^31; garbage after a good header; a zip bomb
    /// (64 MiB of zeros as zstd, announced as 1 MiB); frames that overrun their record.</summary>
    private static byte[] Hostile(string attack)
    {
        var record = GoodRecord(3);
        switch (attack)
        {
            case "bad-version":
                record[2] = 9;
                return record;
            case "too-large":
                BinaryPrimitives.WriteUInt32BigEndian(record.AsSpan(36), 0x8000_0000u);
                return record;
            case "bad-payload":
                Assert.Equal((byte)StreamCompression.Lz4, record[3]);
                record.AsSpan(StreamRecordHeader.Length).Fill(0xA5);
                return record;
            case "zip-bomb":
            {
                using var zstd = new ZstdSharp.Compressor(3);
                var bomb = zstd.Wrap(new byte[64 << 20]).ToArray();
                var output = new byte[StreamRecordHeader.Length + bomb.Length];
                new StreamRecordHeader(StreamCompression.Zstd, 1, 99, 1, 0, 1 << 20, bomb.Length).Write(output);
                bomb.CopyTo(output, StreamRecordHeader.Length);
                return output;
            }

            default:
            {
                var frame = new byte[16 + 60];
                BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), 1000);
                BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12), 1000); // 1000 bytes claimed, 60 there
                var output = new byte[StreamRecordHeader.Length + frame.Length];
                new StreamRecordHeader(StreamCompression.None, 1, 98, 1, 0, frame.Length, frame.Length).Write(output);
                frame.CopyTo(output, StreamRecordHeader.Length);
                return output;
            }
        }
    }

    private sealed record Rec(byte[] Data, int OriginalLength, long TimestampNs);

    /// <summary>Every whole record of every capture file of <paramref name="path"/> (a directory, by name, or one file).</summary>
    private static List<Rec> Records(string path)
    {
        var files = Directory.Exists(path) ? Directory.GetFiles(path, "*.pcap").Order(StringComparer.Ordinal).ToArray() : [path];
        var records = new List<Rec>();
        foreach (var file in files)
        {
            if (!File.Exists(file) || new FileInfo(file).Length < PcapWriter.FileHeaderLength)
            {
                continue;
            }

            using var reader = CaptureFileReader.Open(file);
            while (reader.ReadNext(out var record) == CaptureReadStatus.Packet)
            {
                records.Add(new Rec(record.Data.ToArray(), record.OriginalLength, record.TimestampNs));
            }
        }

        return records;
    }
}
