using Akka.Configuration;
using Fabric.Configuration;
using Fabric.Actors.Decap;
using Fabric.Protocols.Decap;
using Xunit;

namespace Fabric.Actors.Tests.Decap;

public class DecapSettingsTests
{
    private static Config ReferenceConfig()
    {
        using var stream = typeof(DecapSettings).Assembly.GetManifestResourceStream("Fabric.fabric.conf")
                           ?? throw new InvalidOperationException("embedded fabric.conf missing");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }

    [Fact]
    public void Reference_config_gives_the_documented_defaults()
    {
        var options = DecapSettings.FromConfig(ReferenceConfig());
        var defaults = new DecapOptions();

        Assert.Equal(defaults.VxlanPorts, options.VxlanPorts);
        Assert.Equal(defaults.VxlanGpePorts, options.VxlanGpePorts);
        Assert.Equal(defaults.GenevePorts, options.GenevePorts);
        Assert.Equal(defaults.GreInUdpPorts, options.GreInUdpPorts);
        Assert.Equal(defaults.AcceptedErspanTypes, options.AcceptedErspanTypes);
        Assert.Equal(defaults.MaxDepth, options.MaxDepth);
        Assert.Equal(defaults.ErspanVlan, options.ErspanVlan);
        Assert.Equal(defaults.VxlanReservedBits, options.VxlanReservedBits);
        Assert.Equal(defaults.NonEncapsulated, options.NonEncapsulated);
        Assert.Equal(defaults.IpInIp, options.IpInIp);
        Assert.Equal(defaults.SynthesizedSourceMac, options.SynthesizedSourceMac);
        Assert.Equal(defaults.SynthesizedDestinationMac, options.SynthesizedDestinationMac);
        Assert.Equal(defaults.ReassemblyMaxBytes, options.ReassemblyMaxBytes);
        Assert.Equal(defaults.ReassemblyMaxDatagramBytes, options.ReassemblyMaxDatagramBytes);
        Assert.Equal(defaults.ReassemblyMaxDatagrams, options.ReassemblyMaxDatagrams);
        Assert.Equal(defaults.ReassemblyTimeout, options.ReassemblyTimeout);
        Assert.Equal(defaults.GeneveUnknownCriticalOptions, options.GeneveUnknownCriticalOptions);
        Assert.Equal(GeneveCriticalPolicy.Forward, options.GeneveUnknownCriticalOptions);
        Assert.Equal(4, options.MaxDepth);
        Assert.Equal(new ushort[] { 4789, 8472 }, options.VxlanPorts);
    }

    [Fact]
    public void Every_key_is_read()
    {
        var config = ConfigurationFactory.ParseString("""
            fabric.decap {
              vxlan-ports = [4789]
              vxlan-gpe-ports = [4791]
              geneve-ports = [6081, 6082]
              gre-in-udp-ports = [4755]
              erspan-types = [2, 3]
              max-depth = 2
              erspan-vlan = retag
              vxlan-reserved-bits = strict
              non-encapsulated = pass
              ip-in-ip = false
              synthesized-source-mac = "02:00:00:00:00:aa"
              synthesized-destination-mac = "02:00:00:00:00:bb"
              reassembly { max-bytes = 1000000, max-datagram-bytes = 9000, max-datagrams = 16, timeout = 2s }
              geneve { unknown-critical-options = drop }
            }
            """).WithFallback(ReferenceConfig());

        var options = DecapSettings.FromConfig(config);

        Assert.Equal(new ushort[] { 4789 }, options.VxlanPorts);
        Assert.Equal(new ushort[] { 4791 }, options.VxlanGpePorts);
        Assert.Equal(new ushort[] { 6081, 6082 }, options.GenevePorts);
        Assert.Equal(new ushort[] { 4755 }, options.GreInUdpPorts);
        Assert.Equal(ErspanTypes.TypeII | ErspanTypes.TypeIII, options.AcceptedErspanTypes);
        Assert.Equal(2, options.MaxDepth);
        Assert.Equal(ErspanVlanPolicy.Retag, options.ErspanVlan);
        Assert.Equal(ReservedBitsPolicy.Strict, options.VxlanReservedBits);
        Assert.Equal(NonEncapsulatedPolicy.Pass, options.NonEncapsulated);
        Assert.False(options.IpInIp);
        Assert.Equal(MacAddress.Parse("02:00:00:00:00:aa"), options.SynthesizedSourceMac);
        Assert.Equal(MacAddress.Parse("02:00:00:00:00:bb"), options.SynthesizedDestinationMac);
        Assert.Equal(1000000, options.ReassemblyMaxBytes);
        Assert.Equal(9000, options.ReassemblyMaxDatagramBytes);
        Assert.Equal(16, options.ReassemblyMaxDatagrams);
        Assert.Equal(TimeSpan.FromSeconds(2), options.ReassemblyTimeout);
        Assert.Equal(GeneveCriticalPolicy.Drop, options.GeneveUnknownCriticalOptions);
    }

    [Theory]
    [InlineData("max-depth = 0", "fabric.decap.max-depth:")]
    [InlineData("max-depth = nine", "fabric.decap.max-depth:")]
    [InlineData("vxlan-ports = [4789, 70000]", "fabric.decap.vxlan-ports[1]:")]
    [InlineData("vxlan-ports = [0]", "fabric.decap.vxlan-ports[0]:")]
    [InlineData("geneve-ports = [4789]", "fabric.decap.geneve-ports:")]
    [InlineData("erspan-types = [4]", "fabric.decap.erspan-types[0]:")]
    [InlineData("erspan-vlan = retagg", "fabric.decap.erspan-vlan:")]
    [InlineData("vxlan-reserved-bits = lax", "fabric.decap.vxlan-reserved-bits:")]
    [InlineData("non-encapsulated = keep", "fabric.decap.non-encapsulated:")]
    [InlineData("ip-in-ip = maybe", "fabric.decap.ip-in-ip:")]
    [InlineData("synthesized-source-mac = \"02:00\"", "fabric.decap.synthesized-source-mac:")]
    [InlineData("reassembly.timeout = soon", "fabric.decap.reassembly.timeout:")]
    [InlineData("reassembly.max-datagram-bytes = 100", "fabric.decap.reassembly.max-datagram-bytes:")]
    [InlineData("reassembly.max-bytes = 1000", "fabric.decap.reassembly.max-bytes:")]
    [InlineData("reassembly.colour = red", "fabric.decap.reassembly.colour:")]
    [InlineData("vxlan-port = [4789]", "fabric.decap.vxlan-port:")]
    [InlineData("geneve.unknown-critical-options = keep", "fabric.decap.geneve.unknown-critical-options:")]
    [InlineData("geneve.critical = drop", "fabric.decap.geneve.critical:")]
    public void Bad_values_fail_with_the_key_path(string line, string expectedStart)
    {
        var config = ConfigurationFactory.ParseString("fabric.decap { " + line + " }").WithFallback(ReferenceConfig());

        var error = Assert.Throws<FabricConfigException>(() => DecapSettings.FromConfig(config));

        Assert.StartsWith(expectedStart, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void A_missing_section_gives_the_defaults()
    {
        var options = DecapSettings.FromConfig(ConfigurationFactory.ParseString("akka.loglevel = INFO"));

        Assert.Equal(4, options.MaxDepth);
    }
}
