using System.Net;
using Fabric.Protocols.Decap;
using Fabric.Protocols.Encap;
using Fabric.Protocols.Tests.Decap;
using Xunit;

namespace Fabric.Protocols.Tests.Encap;

/// <summary>
/// Must show 5: random header fields, encoded with <see cref="HeaderWriter"/> or the
/// <see cref="Encapsulator"/>, decoded by the readers / the <see cref="Decapsulator"/>: equal.
/// Seeded, so a failure names its iteration and reproduces.
/// </summary>
public class RoundTripTests
{
    private const int Iterations = 2000;

    private static Random Seeded(int salt) => new(20261129 + salt);

    private static MacAddress RandomMac(Random random) => new((ulong)random.NextInt64(0, 1L << 48));

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public void Ethernet_with_tags()
    {
        var random = Seeded(1);
        var buffer = new byte[64];
        for (var i = 0; i < Iterations; i++)
        {
            var dst = RandomMac(random);
            var src = RandomMac(random);
            var tags = Enumerable.Range(0, random.Next(0, EthernetHeader.MaxTags + 1)).Select(_ => (ushort)random.Next(0, 65536)).ToArray();
            var type = (ushort)random.Next(0x0600, 65536);
            if (EthernetHeader.IsTagType(type))
            {
                type = EthernetHeader.TypeIPv4;
            }

            var tpid = random.Next(2) == 0 ? EthernetHeader.TypeVlan : EthernetHeader.TypeQinQ;
            var written = HeaderWriter.WriteEthernet(buffer, dst, src, type, tags, tpid);

            Assert.Equal(DecapStatus.Ok, EthernetHeader.TryRead(buffer.AsSpan(0, written), out var header));
            Assert.Equal(written, header.HeaderLength);
            Assert.Equal(type, header.EtherType);
            Assert.Equal(tags.Length, header.TagCount);
            Assert.Equal(tags.Length == 0 ? 0 : tags[0] & 0x0FFF, header.FirstVlanId);
            Assert.Equal(dst, new MacAddress(ToMac(header.Destination)));
            Assert.Equal(src, new MacAddress(ToMac(header.Source)));
        }
    }

    private static ulong ToMac(ReadOnlySpan<byte> bytes)
    {
        ulong value = 0;
        foreach (var b in bytes)
        {
            value = (value << 8) | b;
        }

        return value;
    }

    [Fact]
    public void Ipv4()
    {
        var random = Seeded(2);
        var buffer = new byte[20];
        for (var i = 0; i < Iterations; i++)
        {
            var src = RandomBytes(random, 4);
            var dst = RandomBytes(random, 4);
            var protocol = (byte)random.Next(256);
            var payload = random.Next(0, 65535 - 20 + 1);
            var ttl = (byte)random.Next(256);
            var tos = (byte)random.Next(256);
            var id = (ushort)random.Next(65536);
            var df = random.Next(2) == 0;
            var mf = random.Next(2) == 0;
            var fragmentOffset = random.Next(0, 8192) << 3;

            Assert.Equal(20, HeaderWriter.WriteIpv4(buffer, src, dst, protocol, payload, ttl, tos, id, df, fragmentOffset, mf));
            Assert.Equal(DecapStatus.Ok, Ipv4Header.TryRead(buffer, out var header));
            Assert.Equal(src, header.Source.ToArray());
            Assert.Equal(dst, header.Destination.ToArray());
            Assert.Equal(protocol, header.Protocol);
            Assert.Equal(20 + payload, header.TotalLength);
            Assert.Equal(id, header.Identification);
            Assert.Equal(df, header.DontFragment);
            Assert.Equal(mf, header.MoreFragments);
            Assert.Equal(fragmentOffset, header.FragmentOffset);
            Assert.Equal(0, Ipv4Header.ComputeChecksum(buffer));
        }
    }

    [Fact]
    public void Ipv6()
    {
        var random = Seeded(3);
        var buffer = new byte[40];
        for (var i = 0; i < Iterations; i++)
        {
            var src = RandomBytes(random, 16);
            var dst = RandomBytes(random, 16);
            byte next;
            do
            {
                next = (byte)random.Next(256);
            }
            while (next is Ipv6Header.HopByHop or Ipv6Header.Routing or Ipv6Header.Fragment or Ipv6Header.DestinationOptions);

            var payload = random.Next(0, 65536);
            Assert.Equal(40, HeaderWriter.WriteIpv6(buffer, src, dst, next, payload, (byte)random.Next(256), (uint)random.Next()));
            Assert.Equal(DecapStatus.Ok, Ipv6Header.TryRead(buffer, out var header));
            Assert.Equal(src, header.Source.ToArray());
            Assert.Equal(dst, header.Destination.ToArray());
            Assert.Equal(next, header.NextHeader);
            Assert.Equal(payload, header.PayloadLength);
            Assert.Equal(40, header.HeaderLength);
        }
    }

    [Fact]
    public void Udp()
    {
        var random = Seeded(4);
        var buffer = new byte[8];
        for (var i = 0; i < Iterations; i++)
        {
            var sport = (ushort)random.Next(65536);
            var dport = (ushort)random.Next(65536);
            var payload = random.Next(0, 65535 - 8 + 1);
            Assert.Equal(8, HeaderWriter.WriteUdp(buffer, sport, dport, payload));
            Assert.Equal(DecapStatus.Ok, UdpHeader.TryRead(buffer, out var header));
            Assert.Equal(sport, header.SourcePort);
            Assert.Equal(dport, header.DestinationPort);
            Assert.Equal(8 + payload, header.Length);
        }
    }

    [Fact]
    public void Gre()
    {
        var random = Seeded(5);
        var buffer = new byte[16];
        for (var i = 0; i < Iterations; i++)
        {
            var protocol = (ushort)random.Next(65536);
            uint? key = random.Next(2) == 0 ? (uint)random.NextInt64(0, 1L << 32) : null;
            uint? sequence = random.Next(2) == 0 ? (uint)random.NextInt64(0, 1L << 32) : null;
            ushort? checksum = random.Next(2) == 0 ? (ushort)random.Next(65536) : null;

            var written = HeaderWriter.WriteGre(buffer, protocol, key, sequence, checksum);
            Assert.Equal(DecapStatus.Ok, GreHeader.TryRead(buffer.AsSpan(0, written), out var header));
            Assert.Equal(written, header.HeaderLength);
            Assert.Equal(protocol, header.ProtocolType);
            Assert.Equal(key.HasValue, header.KeyPresent);
            Assert.Equal(key ?? 0, header.Key);
            Assert.Equal(sequence.HasValue, header.SequencePresent);
            Assert.Equal(sequence ?? 0, header.SequenceNumber);
            Assert.Equal(checksum.HasValue, header.ChecksumPresent);
            Assert.Equal(checksum ?? 0, header.Checksum);
            Assert.Equal(0, header.Version);
        }
    }

    [Fact]
    public void Erspan_II()
    {
        var random = Seeded(6);
        var buffer = new byte[8];
        for (var i = 0; i < Iterations; i++)
        {
            var fields = new ErspanIIFields((ushort)random.Next(1024), (ushort)random.Next(4096), (byte)random.Next(8),
                (byte)random.Next(4), random.Next(2) == 0, (uint)random.Next(1 << 20));
            Assert.Equal(8, HeaderWriter.WriteErspanII(buffer, fields));
            Assert.Equal(DecapStatus.Ok, ErspanIIHeader.TryRead(buffer, out var header));
            Assert.Equal(fields, new ErspanIIFields(header.SessionId, header.Vlan, header.Cos, header.En, header.Truncated, header.Index));
            Assert.Equal(1, header.Version);
        }
    }

    [Fact]
    public void Erspan_III()
    {
        var random = Seeded(7);
        var buffer = new byte[20];
        for (var i = 0; i < Iterations; i++)
        {
            var fields = RandomErspanIII(random);
            var written = HeaderWriter.WriteErspanIII(buffer, fields);
            Assert.Equal(DecapStatus.Ok, ErspanIIIHeader.TryRead(buffer.AsSpan(0, written), out var header));
            Assert.Equal(written, header.HeaderLength);
            var decoded = new ErspanIIIFields(header.SessionId, header.Vlan, header.Cos, header.Bso, header.Truncated, header.Timestamp,
                header.Sgt, header.P, header.FrameType, header.HardwareId, header.Direction, header.Granularity,
                header.O ? System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(buffer.AsSpan(12)) : null);
            Assert.Equal(fields, decoded);
        }
    }

    private static ErspanIIIFields RandomErspanIII(Random random, byte? frameType = null)
        => new((ushort)random.Next(1024), (ushort)random.Next(4096), (byte)random.Next(8), (byte)random.Next(4), random.Next(2) == 0,
            (uint)random.NextInt64(0, 1L << 32), (ushort)random.Next(65536), random.Next(2) == 0, frameType ?? (byte)random.Next(32),
            (byte)random.Next(64), (byte)random.Next(2), (byte)random.Next(4), random.Next(2) == 0 ? (ulong)random.NextInt64() : null);

    [Fact]
    public void Vxlan_and_vxlan_gpe()
    {
        var random = Seeded(8);
        var buffer = new byte[8];
        for (var i = 0; i < Iterations; i++)
        {
            var vni = (uint)random.Next(1 << 24);
            Assert.Equal(8, HeaderWriter.WriteVxlan(buffer, vni));
            Assert.Equal(DecapStatus.Ok, VxlanHeader.TryRead(buffer, out var vxlan));
            Assert.Equal(vni, vxlan.Vni);
            Assert.False(vxlan.ReservedBitsSet);

            var next = (byte)random.Next(1, 256);
            Assert.Equal(8, HeaderWriter.WriteVxlanGpe(buffer, vni, next));
            Assert.Equal(DecapStatus.Ok, VxlanGpeHeader.TryRead(buffer, out var gpe));
            Assert.Equal(vni, gpe.Vni);
            Assert.Equal(next, gpe.NextProtocol);
            Assert.True(gpe.VniValid);
        }
    }

    [Fact]
    public void Geneve_with_options()
    {
        var random = Seeded(9);
        var buffer = new byte[8 + 252];
        var options = new byte[252];
        for (var i = 0; i < Iterations; i++)
        {
            var expected = new List<(ushort Class, byte Type, byte[] Data)>();
            var length = 0;
            while (random.Next(3) != 0)
            {
                var data = RandomBytes(random, random.Next(0, 8) * 4);
                if (length + 4 + data.Length > options.Length)
                {
                    break;
                }

                var optionClass = (ushort)random.Next(65536);
                var type = (byte)random.Next(256);
                length += HeaderWriter.WriteGeneveOption(options.AsSpan(length), optionClass, type, data);
                expected.Add((optionClass, type, data));
            }

            var vni = (uint)random.Next(1 << 24);
            var protocol = (ushort)random.Next(65536);
            var critical = random.Next(2) == 0;
            var written = HeaderWriter.WriteGeneve(buffer, vni, protocol, options.AsSpan(0, length), critical: critical);
            Assert.Equal(DecapStatus.Ok, GeneveHeader.TryRead(buffer.AsSpan(0, written), out var header));
            Assert.Equal(written, header.HeaderLength);
            Assert.Equal(vni, header.Vni);
            Assert.Equal(protocol, header.ProtocolType);
            Assert.Equal(critical, header.Critical);
            Assert.False(header.Control);
            var decoded = new List<(ushort, byte, byte[])>();
            foreach (var option in header.GetOptions())
            {
                decoded.Add((option.OptionClass, option.Type, option.Data.ToArray()));
            }

            Assert.Equal(expected.Count, decoded.Count);
            for (var o = 0; o < expected.Count; o++)
            {
                Assert.Equal(expected[o].Class, decoded[o].Item1);
                Assert.Equal(expected[o].Type, decoded[o].Item2);
                Assert.Equal(expected[o].Data, decoded[o].Item3);
            }
        }
    }

    [Fact]
    public void Encapsulator_then_decapsulator_gives_back_the_frame_and_the_fields()
    {
        var random = Seeded(10);
        var decapsulator = new Decapsulator(new DecapOptions { VxlanPorts = [4789, 8472, 54321] });
        var destination = new byte[2048];
        for (var i = 0; i < Iterations; i++)
        {
            var type = (EncapsulationType)random.Next(4);
            var options = new EncapOptions
            {
                Type = type,
                Outer = OuterHeaders.Ethernet,
                SourceMac = RandomMac(random),
                DestinationMac = RandomMac(random),
                SourceAddress = new IPAddress(RandomBytes(random, 4)),
                DestinationAddress = new IPAddress(RandomBytes(random, 4)),
                Ttl = (byte)random.Next(1, 256),
                UdpDestinationPort = random.Next(2) == 0 ? (ushort)4789 : (ushort)54321,
                Vni = (uint)random.Next(1 << 24),
                GreKey = random.Next(2) == 0 ? (uint)random.NextInt64(0, 1L << 32) : null,
                ErspanSessionId = (ushort)random.Next(1024),
                ErspanVlan = (ushort)random.Next(4096),
                ErspanCos = (byte)random.Next(8),
                ErspanEn = (byte)random.Next(4),
                ErspanIndex = (uint)random.Next(1 << 20),
                ErspanHardwareId = (byte)random.Next(64),
                ErspanDirection = (byte)random.Next(2),
                ErspanGranularity = (byte)random.Next(4),
            };
            var inner = PacketBuilder.InnerFrame(random.Next(0, 1400), random.Next(2) == 0 ? (ushort)random.Next(1, 4096) : null);
            var truncated = random.Next(2) == 0;
            var timestamp = (uint)random.NextInt64(0, 1L << 32);
            var encapsulator = new Encapsulator(options);

            var written = encapsulator.Encapsulate(inner, destination, truncated, timestamp);
            Assert.Equal(encapsulator.HeaderLength + inner.Length, written);

            var status = decapsulator.Decapsulate(destination, 0, written, written, 0, out var result, out var md);
            Assert.True(status == DecapStatus.Ok, $"iteration {i}: {status}");
            Assert.Equal(inner, destination.AsSpan(result.Offset, result.Length).ToArray());
            Assert.Equal(options.SourceAddress, md.OuterSourceAddress());
            Assert.Equal(options.DestinationAddress, md.OuterDestinationAddress());
            switch (type)
            {
                case EncapsulationType.Vxlan:
                    Assert.Equal(EncapKind.Vxlan, md.Layer(0));
                    Assert.Equal(options.Vni, md.Vni);
                    break;
                case EncapsulationType.Gre:
                    Assert.Equal(EncapKind.Gre, md.Layer(0));
                    Assert.Equal(options.GreKey.HasValue, md.HasGreKey);
                    Assert.Equal(options.GreKey ?? 0, md.GreKey);
                    break;
                case EncapsulationType.ErspanII:
                    Assert.Equal(EncapKind.ErspanII, md.Layer(0));
                    Assert.Equal(options.ErspanSessionId, md.ErspanSessionId);
                    Assert.Equal(options.ErspanVlan, md.ErspanVlan);
                    Assert.Equal(options.ErspanCos, md.ErspanCos);
                    Assert.Equal(options.ErspanEn, md.ErspanEn);
                    Assert.Equal(options.ErspanIndex, md.ErspanIndex);
                    Assert.Equal(truncated, md.ErspanTruncated);
                    break;
                default:
                    Assert.Equal(EncapKind.ErspanIII, md.Layer(0));
                    Assert.Equal(options.ErspanSessionId, md.ErspanSessionId);
                    Assert.Equal(options.ErspanVlan, md.ErspanVlan);
                    Assert.Equal(options.ErspanHardwareId, md.ErspanHardwareId);
                    Assert.Equal(options.ErspanDirection, md.ErspanDirection);
                    Assert.Equal(options.ErspanGranularity, md.ErspanGranularity);
                    Assert.Equal(timestamp, md.ErspanTimestamp);
                    Assert.Equal(truncated, md.ErspanTruncated);
                    break;
            }
        }
    }

    [Fact]
    public void Encapsulate_in_place_matches_the_copying_path_and_numbers_gre_sequences()
    {
        var options = new EncapOptions { Type = EncapsulationType.ErspanII, ErspanSessionId = 7 };
        var copying = new Encapsulator(options);
        var inPlace = new Encapsulator(options);
        var inner = PacketBuilder.InnerFrame();
        for (var i = 0; i < 3; i++)
        {
            var a = new byte[copying.HeaderLength + inner.Length];
            Assert.Equal(a.Length, copying.Encapsulate(inner, a));

            var b = new byte[100 + inner.Length];
            inner.CopyTo(b, 100);
            var start = inPlace.EncapsulateInPlace(b, 100, inner.Length);
            Assert.Equal(100 - inPlace.HeaderLength, start);
            Assert.Equal(a, b[start..]);

            Assert.Equal(DecapStatus.Ok, GreHeader.TryRead(a.AsSpan(34), out var gre));
            Assert.Equal((uint)i, gre.SequenceNumber);
        }

        Assert.Equal(-1, inPlace.EncapsulateInPlace(new byte[10 + inner.Length], 10, inner.Length));
        Assert.Equal(0, copying.Encapsulate(inner, new byte[10]));
    }
}
