using System.Buffers.Binary;
using System.Net;
using Fabric.Protocols.Encap;
using Fabric.Protocols.Pcap;

namespace Fabric.Actors.Tests.Mirrors.Fakes;

/// <summary>
/// Crafted VXLAN frames as an AWS Traffic Mirror session sends them to its target (UDP 4789, the
/// session's VNI, the source ENI's address outside; the mirrored Ethernet frame inside), written
/// to a pcap file. NOT captured from AWS: made with Fabric's own Encapsulator for tests.
/// </summary>
public static class AwsMirrorTraffic
{
    /// <summary>Writes, in the given order, <c>Count</c> frames of each VNI (inner UDP frames numbered within the file); returns the frames written.</summary>
    public static int WritePcap(string path, params (uint Vni, int Count)[] sessions)
    {
        ArgumentNullException.ThrowIfNull(sessions);
        using var writer = PcapWriter.Create(path, LinkTypes.Ethernet);
        var buffer = new byte[256];
        var inner = new byte[74];
        long time = 1_700_000_000_000_000_000;
        int n = 0;
        foreach (var (vni, count) in sessions)
        {
            var encap = new Encapsulator(new EncapOptions
            {
                Type = EncapsulationType.Vxlan,
                Vni = vni,
                SourceAddress = IPAddress.Parse("10.0.1.10"),
                DestinationAddress = IPAddress.Parse("10.0.9.5"),
                UdpSourcePort = 49152,
            });
            for (int i = 0; i < count; i++, n++)
            {
                InnerFrame(inner, n);
                int length = encap.Encapsulate(inner, buffer);
                writer.Write(buffer.AsSpan(0, length), time + (n * 1000L), length);
            }
        }

        return n;
    }

    /// <summary>An Ethernet/IPv4/UDP frame (10.0.1.10:40000 → 10.0.2.20:53) whose payload starts with <paramref name="n"/>.</summary>
    private static void InnerFrame(Span<byte> f, int n)
    {
        f.Clear();
        byte[] dst = [0x02, 0x00, 0x00, 0x00, 0x02, 0x20], src = [0x02, 0x00, 0x00, 0x00, 0x01, 0x10];
        dst.CopyTo(f);
        src.CopyTo(f[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], 0x0800);
        var ip = f[14..];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(f.Length - 14));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)n);
        ip[8] = 64;
        ip[9] = 17;
        byte[] a = [10, 0, 1, 10], b = [10, 0, 2, 20];
        a.CopyTo(ip[12..]);
        b.CopyTo(ip[16..]);
        uint sum = 0;
        for (int i = 0; i < 20; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        }

        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~sum);
        var udp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 53);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(f.Length - 34));
        BinaryPrimitives.WriteInt32BigEndian(udp[8..], n);
    }
}
