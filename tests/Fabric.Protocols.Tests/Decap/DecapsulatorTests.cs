using Fabric.Protocols.Decap;
using Fabric.Protocols.Encap;
using Xunit;

namespace Fabric.Protocols.Tests.Decap;

public class DecapsulatorTests
{
    private static DecapStatus Run(Decapsulator decapsulator, byte[] frame, out DecapResult result, out PacketMetadata metadata,
        int? captured = null, int? original = null)
        => decapsulator.Decapsulate(frame, 0, captured ?? frame.Length, original ?? frame.Length, 0, out result, out metadata);

    private static byte[] Slice(byte[] buffer, DecapResult result) => buffer.AsSpan(result.Offset, result.Length).ToArray();

    [Fact]
    public void Vxlan_yields_the_inner_frame_and_vni()
    {
        var inner = PacketBuilder.InnerFrame();
        var frame = PacketBuilder.Vxlan(inner, vni: 4242);

        var status = Run(new Decapsulator(new DecapOptions()), frame, out var result, out var md);

        Assert.Equal(DecapStatus.Ok, status);
        Assert.Equal(inner, Slice(frame, result));
        Assert.Equal(inner.Length, result.OriginalLength);
        Assert.Equal(EncapKind.Vxlan, md.Layer(0));
        Assert.Equal(1, md.Depth);
        Assert.True(md.HasVni);
        Assert.Equal(4242u, md.Vni);
        Assert.Equal(4, md.OuterIpVersion);
        Assert.Equal("192.0.2.1", md.OuterSourceAddress()!.ToString());
        Assert.Equal("192.0.2.2", md.OuterDestinationAddress()!.ToString());
    }

    [Fact]
    public void Vxlan_on_8472_is_decoded_by_default_and_not_when_the_port_is_removed()
    {
        var frame = PacketBuilder.Vxlan(PacketBuilder.InnerFrame(), port: 8472);

        Assert.Equal(DecapStatus.Ok, Run(new Decapsulator(new DecapOptions()), (byte[])frame.Clone(), out _, out _));
        Assert.Equal(DecapStatus.NotEncapsulated,
            Run(new Decapsulator(new DecapOptions { VxlanPorts = [4789] }), frame, out _, out _));
    }

    [Fact]
    public void Vxlan_reserved_bits_are_ignored_when_permissive_and_refused_when_strict()
    {
        var frame = PacketBuilder.Vxlan(PacketBuilder.InnerFrame());
        frame[14 + 20 + 8] |= 0x04; // a reserved flag next to I (the GPE P bit), as in zeek tunnels_vxlan-triple-v2.pcap

        Assert.Equal(DecapStatus.Ok, Run(new Decapsulator(new DecapOptions()), (byte[])frame.Clone(), out _, out _));
        Assert.Equal(DecapStatus.VxlanReservedBitsSet,
            Run(new Decapsulator(new DecapOptions { VxlanReservedBits = ReservedBitsPolicy.Strict }), frame, out _, out _));
    }

    [Fact]
    public void Vxlan_without_the_I_flag_is_refused()
    {
        var frame = PacketBuilder.Vxlan(PacketBuilder.InnerFrame());
        frame[14 + 20 + 8] = 0;

        Assert.Equal(DecapStatus.VxlanInvalidFlags, Run(new Decapsulator(new DecapOptions()), frame, out _, out _));
    }

    [Fact]
    public void Gre_with_key_carrying_ethernet_records_the_key()
    {
        var inner = PacketBuilder.InnerFrame();
        var frame = PacketBuilder.Gre(inner, key: 0x12345602);

        var status = Run(new Decapsulator(new DecapOptions()), frame, out var result, out var md);

        Assert.Equal(DecapStatus.Ok, status);
        Assert.Equal(inner, Slice(frame, result));
        Assert.Equal(EncapKind.Gre, md.Layer(0));
        Assert.True(md.HasGreKey);
        Assert.Equal(0x12345602u, md.GreKey);
    }

    [Fact]
    public void Gre_carrying_ip_gets_a_synthesized_ethernet_header()
    {
        var ip = PacketBuilder.InnerIp();
        var frame = PacketBuilder.Gre(ip, GreHeader.ProtocolIPv4, key: null);
        var options = new DecapOptions
        {
            SynthesizedSourceMac = MacAddress.Parse("02:aa:bb:cc:dd:ee"),
            SynthesizedDestinationMac = MacAddress.Parse("02:11:22:33:44:55"),
        };

        var status = Run(new Decapsulator(options), frame, out var result, out var md);

        Assert.Equal(DecapStatus.Ok, status);
        var output = Slice(frame, result);
        Assert.Equal(EthernetHeader.MinLength + ip.Length, output.Length);
        Assert.Equal(ip.Length + EthernetHeader.MinLength, result.OriginalLength);
        Assert.Equal(new byte[] { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x08, 0x00 }, output[..14]);
        Assert.Equal(ip, output[14..]);
        Assert.True(md.SynthesizedEthernet);
    }

    [Fact]
    public void Erspan_I_II_III_are_told_apart_by_protocol_and_sequence_bit()
    {
        var inner = PacketBuilder.InnerFrame();
        var decapsulator = new Decapsulator(new DecapOptions());

        var typeI = PacketBuilder.ErspanI(inner);
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, typeI, out var r1, out var m1));
        Assert.Equal(inner, Slice(typeI, r1));
        Assert.Equal(EncapKind.ErspanI, m1.Layer(0));
        Assert.Equal(1, m1.ErspanType);

        var typeII = PacketBuilder.ErspanII(inner, PacketBuilder.DefaultErspanII);
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, typeII, out var r2, out var m2));
        Assert.Equal(inner, Slice(typeII, r2));
        Assert.Equal(EncapKind.ErspanII, m2.Layer(0));
        Assert.Equal(2, m2.ErspanType);
        Assert.Equal(666, m2.ErspanSessionId);
        Assert.Equal(342, m2.ErspanVlan);
        Assert.Equal(6, m2.ErspanCos);
        Assert.Equal(2, m2.ErspanEn);
        Assert.Equal(32760u, m2.ErspanIndex);

        var typeIII = PacketBuilder.ErspanIII(inner, PacketBuilder.DefaultErspanIII);
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, typeIII, out var r3, out var m3));
        Assert.Equal(inner, Slice(typeIII, r3));
        Assert.Equal(EncapKind.ErspanIII, m3.Layer(0));
        Assert.Equal(3, m3.ErspanType);
        Assert.Equal(101, m3.ErspanSessionId);
        Assert.Equal(20, m3.ErspanVlan);
        Assert.Equal(1, m3.ErspanDirection);
        Assert.Equal(0xDEADBEEFu, m3.ErspanTimestamp);
        Assert.Equal(3, m3.ErspanHardwareId);
        Assert.Equal(3, m3.ErspanGranularity);
    }

    [Fact]
    public void Erspan_III_platform_subheader_is_skipped_and_frame_type_ip_gets_ethernet()
    {
        var inner = PacketBuilder.InnerFrame();
        var withSubheader = PacketBuilder.ErspanIII(inner, PacketBuilder.DefaultErspanIII with { PlatformSubheader = 0x0300000012345678 });
        var decapsulator = new Decapsulator(new DecapOptions());
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, withSubheader, out var r1, out _));
        Assert.Equal(inner, Slice(withSubheader, r1));

        var ip = PacketBuilder.InnerIp();
        var ipFrame = PacketBuilder.ErspanIII(ip, PacketBuilder.DefaultErspanIII with { FrameType = ErspanIIIHeader.FrameTypeIp });
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, ipFrame, out var r2, out var m2));
        Assert.Equal(ip, Slice(ipFrame, r2)[14..]);
        Assert.True(m2.SynthesizedEthernet);

        var unknown = PacketBuilder.ErspanIII(inner, PacketBuilder.DefaultErspanIII with { FrameType = 7 });
        Assert.Equal(DecapStatus.ErspanFrameTypeUnsupported, Run(decapsulator, unknown, out _, out _));
    }

    [Fact]
    public void Erspan_types_not_accepted_are_counted_as_such()
    {
        var decapsulator = new Decapsulator(new DecapOptions { AcceptedErspanTypes = ErspanTypes.TypeIII });
        var inner = PacketBuilder.InnerFrame();

        Assert.Equal(DecapStatus.ErspanTypeNotAccepted, Run(decapsulator, PacketBuilder.ErspanI(inner), out _, out _));
        Assert.Equal(DecapStatus.ErspanTypeNotAccepted, Run(decapsulator, PacketBuilder.ErspanII(inner, PacketBuilder.DefaultErspanII), out _, out _));
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, PacketBuilder.ErspanIII(inner, PacketBuilder.DefaultErspanIII), out _, out _));
    }

    [Fact]
    public void Erspan_II_with_wrong_version_is_refused()
    {
        var frame = PacketBuilder.ErspanII(PacketBuilder.InnerFrame(), PacketBuilder.DefaultErspanII);
        frame[14 + 20 + 8] = (byte)((2 << 4) | (frame[14 + 20 + 8] & 0x0F));

        Assert.Equal(DecapStatus.ErspanBadVersion, Run(new Decapsulator(new DecapOptions()), frame, out _, out _));
    }

    [Fact]
    public void Retag_inserts_the_erspan_vlan_with_cos_when_the_source_port_was_tagged()
    {
        var inner = PacketBuilder.InnerFrame();
        var frame = PacketBuilder.ErspanII(inner, PacketBuilder.DefaultErspanII with { En = ErspanIIHeader.EnDot1Q, Vlan = 865, Cos = 5 });
        var decapsulator = new Decapsulator(new DecapOptions { ErspanVlan = ErspanVlanPolicy.Retag });

        Assert.Equal(DecapStatus.Ok, Run(decapsulator, frame, out var result, out var md));

        var output = Slice(frame, result);
        Assert.True(md.Retagged);
        Assert.Equal(inner.Length + 4, output.Length);
        Assert.Equal(inner.Length + 4, result.OriginalLength);
        Assert.Equal(inner[..12], output[..12]);
        Assert.Equal(new byte[] { 0x81, 0x00, (byte)((5 << 5) | (865 >> 8)), 865 & 0xFF }, output[12..16]);
        Assert.Equal(inner[12..], output[16..]);
    }

    [Fact]
    public void Retag_applies_to_en_0_like_rcdcap()
    {
        var inner = PacketBuilder.InnerFrame();
        var frame = PacketBuilder.ErspanII(inner, PacketBuilder.DefaultErspanII with { En = ErspanIIHeader.EnUntagged, Vlan = 342, Cos = 6 });

        Assert.Equal(DecapStatus.Ok, Run(new Decapsulator(new DecapOptions { ErspanVlan = ErspanVlanPolicy.Retag }), frame, out var result, out var md));

        Assert.True(md.Retagged);
        Assert.Equal(new byte[] { 0x81, 0x00, (byte)((6 << 5) | (342 >> 8)), 342 & 0xFF }, Slice(frame, result)[12..16]);
    }

    [Fact]
    public void Retag_never_happens_for_en_3_vlan_0_or_already_tagged_frames()
    {
        var decapsulator = new Decapsulator(new DecapOptions { ErspanVlan = ErspanVlanPolicy.Retag });
        var inner = PacketBuilder.InnerFrame();
        var tagged = PacketBuilder.InnerFrame(vlanTci: 865);

        var en3 = PacketBuilder.ErspanII(tagged, PacketBuilder.DefaultErspanII with { En = ErspanIIHeader.EnTagInFrame });
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, en3, out var r1, out var m1));
        Assert.Equal(tagged, Slice(en3, r1));
        Assert.False(m1.Retagged);

        var vlan0 = PacketBuilder.ErspanII(inner, PacketBuilder.DefaultErspanII with { En = ErspanIIHeader.EnDot1Q, Vlan = 0 });
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, vlan0, out var r2, out var m2));
        Assert.Equal(inner, Slice(vlan0, r2));
        Assert.False(m2.Retagged);

        var alreadyTagged = PacketBuilder.ErspanII(tagged, PacketBuilder.DefaultErspanII with { En = ErspanIIHeader.EnDot1Q });
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, alreadyTagged, out var r3, out var m3));
        Assert.Equal(tagged, Slice(alreadyTagged, r3));
        Assert.False(m3.Retagged);

        var en3Untagged = PacketBuilder.ErspanII(inner, PacketBuilder.DefaultErspanII with { En = ErspanIIHeader.EnTagInFrame });
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, en3Untagged, out var r4, out var m4));
        Assert.Equal(inner, Slice(en3Untagged, r4));
        Assert.False(m4.Retagged);
    }

    [Fact]
    public void Metadata_policy_leaves_the_inner_frame_untouched()
    {
        var inner = PacketBuilder.InnerFrame();
        var frame = PacketBuilder.ErspanII(inner, PacketBuilder.DefaultErspanII with { En = ErspanIIHeader.EnDot1Q, Vlan = 865 });

        Assert.Equal(DecapStatus.Ok, Run(new Decapsulator(new DecapOptions()), frame, out var result, out var md));
        Assert.Equal(inner, Slice(frame, result));
        Assert.Equal(865, md.ErspanVlan);
        Assert.False(md.Retagged);
    }

    [Fact]
    public void Geneve_reads_aws_gwlb_options_and_skips_others()
    {
        var options = new byte[64];
        var n = HeaderWriter.WriteGeneveOption(options, 0x0100, 0x01, [1, 2, 3, 4]);
        n += HeaderWriter.WriteGeneveOption(options.AsSpan(n), GeneveHeader.OptionClassAws, 1, [0, 0, 0, 0, 0, 0, 0x12, 0x34]);
        n += HeaderWriter.WriteGeneveOption(options.AsSpan(n), GeneveHeader.OptionClassAws, 2, [0, 0, 0, 0, 0xAB, 0xCD, 0xEF, 0x01]);
        n += HeaderWriter.WriteGeneveOption(options.AsSpan(n), GeneveHeader.OptionClassAws, 3, [0xCA, 0xFE, 0xBA, 0xBE]);
        var inner = PacketBuilder.InnerFrame();
        var frame = PacketBuilder.Geneve(inner, options: options[..n]);

        Assert.Equal(DecapStatus.Ok, Run(new Decapsulator(new DecapOptions()), frame, out var result, out var md));

        Assert.Equal(inner, Slice(frame, result));
        Assert.Equal(AwsGwlbFields.EndpointId | AwsGwlbFields.AttachmentId | AwsGwlbFields.FlowCookie, md.AwsGwlbPresent);
        Assert.Equal(0x1234ul, md.AwsGwlbEndpointId);
        Assert.Equal(0xABCDEF01ul, md.AwsGwlbAttachmentId);
        Assert.Equal(0xCAFEBABEu, md.AwsGwlbFlowCookie);
        Assert.Equal(0x123456u, md.Vni);
    }

    [Fact]
    public void Geneve_ip_payload_gets_ethernet_and_control_packets_are_counted()
    {
        var ip = PacketBuilder.InnerIp();
        var decapsulator = new Decapsulator(new DecapOptions());
        var frame = PacketBuilder.Geneve(ip, EthernetHeader.TypeIPv4);
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, frame, out var result, out _));
        Assert.Equal(ip, Slice(frame, result)[14..]);

        var control = PacketBuilder.Geneve(PacketBuilder.InnerFrame());
        control[14 + 20 + 8 + 1] |= GeneveHeader.OFlag;
        Assert.Equal(DecapStatus.GeneveControlPacket, Run(decapsulator, control, out _, out _));

        var arp = PacketBuilder.Geneve(PacketBuilder.InnerIp(), EthernetHeader.TypeArp);
        Assert.Equal(DecapStatus.GeneveProtocolUnsupported, Run(decapsulator, arp, out _, out _));
    }

    [Fact]
    public void Vxlan_gpe_carries_ethernet_or_ip_and_refuses_nsh()
    {
        var decapsulator = new Decapsulator(new DecapOptions());
        var inner = PacketBuilder.InnerFrame();
        var eth = PacketBuilder.VxlanGpe(inner, VxlanGpeHeader.NextProtocolEthernet, vni: 9);
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, eth, out var r1, out var m1));
        Assert.Equal(inner, Slice(eth, r1));
        Assert.Equal(EncapKind.VxlanGpe, m1.Layer(0));
        Assert.Equal(9u, m1.Vni);

        var ip = PacketBuilder.InnerIp();
        var ipFrame = PacketBuilder.VxlanGpe(ip, VxlanGpeHeader.NextProtocolIPv4);
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, ipFrame, out var r2, out _));
        Assert.Equal(ip, Slice(ipFrame, r2)[14..]);

        var nsh = PacketBuilder.VxlanGpe(inner, VxlanGpeHeader.NextProtocolNsh);
        Assert.Equal(DecapStatus.VxlanGpeNextProtocolUnsupported, Run(decapsulator, nsh, out _, out _));
    }

    [Fact]
    public void Gre_in_udp_and_ip_in_ip_are_peeled()
    {
        var decapsulator = new Decapsulator(new DecapOptions());
        var ip = PacketBuilder.InnerIp();

        var greInUdp = PacketBuilder.GreInUdp(ip);
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, greInUdp, out var r1, out var m1));
        Assert.Equal(ip, Slice(greInUdp, r1)[14..]);
        Assert.Equal(EncapKind.GreInUdp, m1.Layer(0));

        var ipInIp = PacketBuilder.IpInIp(ip);
        Assert.Equal(DecapStatus.Ok, Run(decapsulator, (byte[])ipInIp.Clone(), out var r2, out var m2));
        Assert.Equal(ip, Slice(ipInIp, r2)[14..]);
        Assert.Equal(EncapKind.IpInIp, m2.Layer(0));

        Assert.Equal(DecapStatus.NotEncapsulated,
            Run(new Decapsulator(new DecapOptions { IpInIp = false }), PacketBuilder.IpInIp(ip), out _, out _));
    }

    [Fact]
    public void Nested_tunnels_are_peeled_down_to_the_innermost_frame_up_to_max_depth()
    {
        var inner = PacketBuilder.InnerFrame();
        var frame = inner;
        for (var i = 0; i < 5; i++)
        {
            frame = PacketBuilder.Vxlan(frame, vni: (uint)(i + 1));
        }

        var deep = new Decapsulator(new DecapOptions { MaxDepth = 8 });
        Assert.Equal(DecapStatus.Ok, Run(deep, (byte[])frame.Clone(), out var result, out var md));
        Assert.Equal(5, md.Depth);
        Assert.Equal(1u, md.Vni); // the innermost VXLAN header was written first, with VNI 1
        Assert.Equal("vxlan/vxlan/vxlan/vxlan/vxlan", md.ChainText());

        var copy = (byte[])frame.Clone();
        Assert.Equal(DecapStatus.Ok, Run(deep, copy, out result, out _));
        Assert.Equal(inner, Slice(copy, result));

        Assert.Equal(DecapStatus.TooDeep, Run(new Decapsulator(new DecapOptions()), frame, out _, out _));
    }

    [Fact]
    public void Non_encapsulated_traffic_is_dropped_or_passed_by_policy()
    {
        var frame = PacketBuilder.InnerFrame();

        Assert.Equal(DecapStatus.NotEncapsulated, Run(new Decapsulator(new DecapOptions()), frame, out _, out _));
        var status = Run(new Decapsulator(new DecapOptions { NonEncapsulated = NonEncapsulatedPolicy.Pass }), frame, out var result, out var md);
        Assert.Equal(DecapStatus.PassedThrough, status);
        Assert.Equal(new DecapResult(0, frame.Length, frame.Length), result);
        Assert.Equal(0, md.Depth);
    }

    [Fact]
    public void Inner_frame_keeps_its_truthful_wire_length_when_the_capture_is_short()
    {
        var inner = PacketBuilder.InnerFrame(payloadLength: 1400);
        var frame = PacketBuilder.Vxlan(inner);
        const int snap = 128;

        var status = Run(new Decapsulator(new DecapOptions()), frame, out var result, out _, captured: snap, original: frame.Length);

        Assert.Equal(DecapStatus.Ok, status);
        Assert.True(result.IsTruncated);
        Assert.Equal(inner.Length, result.OriginalLength);
        Assert.Equal(snap - (frame.Length - inner.Length), result.Length);
    }

    [Fact]
    public void Ethernet_padding_after_the_outer_datagram_is_not_part_of_the_inner_frame()
    {
        var inner = PacketBuilder.InnerFrame();
        var frame = PacketBuilder.Vxlan(inner);
        var padded = new byte[frame.Length + 6];
        frame.CopyTo(padded, 0);

        Assert.Equal(DecapStatus.Ok, Run(new Decapsulator(new DecapOptions()), padded, out var result, out _));
        Assert.Equal(inner, Slice(padded, result));
        Assert.Equal(inner.Length, result.OriginalLength);
    }

    [Fact]
    public void Outer_vlan_tags_are_skipped_and_recorded()
    {
        var inner = PacketBuilder.InnerFrame();
        var untagged = PacketBuilder.Vxlan(inner);
        var frame = new byte[untagged.Length + 8];
        HeaderWriter.WriteEthernet(frame, PacketBuilder.OuterDst, PacketBuilder.OuterSrc, EthernetHeader.TypeIPv4, [100, 200], EthernetHeader.TypeQinQ);
        untagged.AsSpan(14).CopyTo(frame.AsSpan(22));

        Assert.Equal(DecapStatus.Ok, Run(new Decapsulator(new DecapOptions()), frame, out var result, out var md));
        Assert.Equal(inner, Slice(frame, result));
        Assert.Equal(100, md.OuterVlan);
    }

    [Fact]
    public void Udp_length_beyond_the_ip_payload_is_refused()
    {
        var frame = PacketBuilder.Vxlan(PacketBuilder.InnerFrame());
        frame[14 + 20 + 4] = 0xFF;

        Assert.Equal(DecapStatus.UdpBadLength, Run(new Decapsulator(new DecapOptions()), frame, out _, out _));
    }

    [Fact]
    public void Bad_caller_input_is_reported_not_thrown()
    {
        var decapsulator = new Decapsulator(new DecapOptions());
        var buffer = new byte[100];

        Assert.Equal(DecapStatus.BadInput, decapsulator.Decapsulate(buffer, 90, 20, 20, 0, out _, out _));
        Assert.Equal(DecapStatus.BadInput, decapsulator.Decapsulate(buffer, 0, 50, 40, 0, out _, out _));
        Assert.Equal(DecapStatus.BadInput, decapsulator.Decapsulate(buffer, -1, 50, 50, 0, out _, out _));
    }

    [Fact]
    public void Raw_ip_link_layer_frames_are_decapsulated()
    {
        var inner = PacketBuilder.InnerFrame();
        var frame = PacketBuilder.Vxlan(inner)[14..];

        var status = new Decapsulator(new DecapOptions()).Decapsulate(frame, 0, frame.Length, frame.Length, 0, LinkLayer.RawIp,
            out var result, out _);

        Assert.Equal(DecapStatus.Ok, status);
        Assert.Equal(inner, Slice(frame, result));
    }

    [Fact]
    public void Decapsulating_allocates_nothing_per_packet()
    {
        var decapsulator = new Decapsulator(new DecapOptions { ErspanVlan = ErspanVlanPolicy.Retag });
        var frames = new[]
        {
            PacketBuilder.Vxlan(PacketBuilder.InnerFrame()),
            PacketBuilder.Geneve(PacketBuilder.InnerIp(), EthernetHeader.TypeIPv4),
            PacketBuilder.ErspanII(PacketBuilder.InnerFrame(), PacketBuilder.DefaultErspanII),
            PacketBuilder.ErspanIII(PacketBuilder.InnerFrame(), PacketBuilder.DefaultErspanIII),
            PacketBuilder.Gre(PacketBuilder.InnerFrame()),
            PacketBuilder.InnerFrame(),
        };
        var pristine = frames.Select(f => (byte[])f.Clone()).ToArray();

        Allocations.AssertNone(
            () =>
            {
                for (var round = 0; round < 1000; round++)
                {
                    for (var i = 0; i < frames.Length; i++)
                    {
                        pristine[i].CopyTo(frames[i], 0);
                        decapsulator.Decapsulate(frames[i], 0, frames[i].Length, frames[i].Length, round, out _, out _);
                    }
                }
            },
            "6,000 decapsulations");
    }

    [Fact]
    public void Status_names_are_stable_kebab_case()
    {
        Assert.Equal("gre-routing-unsupported", DecapStatusInfo.Name(DecapStatus.GreRoutingUnsupported));
        Assert.Equal("ipv4-bad-total-length", DecapStatusInfo.Name(DecapStatus.Ipv4BadTotalLength));
        Assert.Equal("erspan-type-not-accepted", DecapStatusInfo.Name(DecapStatus.ErspanTypeNotAccepted));
        Assert.Equal(DecapStatusInfo.Count, Enum.GetValues<DecapStatus>().Length);
        Assert.Equal(DecapStatusInfo.Count, Enum.GetValues<DecapStatus>().Select(DecapStatusInfo.Name).Distinct().Count());
    }
}
