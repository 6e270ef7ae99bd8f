using Fabric.Protocols.Decap;
using Xunit;

namespace Fabric.Protocols.Tests.Decap;

public class DecapOptionsTests
{
    [Fact]
    public void Defaults_are_valid_and_match_the_documented_policy()
    {
        var options = new DecapOptions();

        Assert.Null(options.Validate());
        Assert.Equal(new ushort[] { 4789, 8472 }, options.VxlanPorts);
        Assert.Equal(new ushort[] { 4790 }, options.VxlanGpePorts);
        Assert.Equal(new ushort[] { 6081 }, options.GenevePorts);
        Assert.Equal(new ushort[] { 4754 }, options.GreInUdpPorts);
        Assert.Equal(ErspanTypes.All, options.AcceptedErspanTypes);
        Assert.Equal(4, options.MaxDepth);
        Assert.Equal(NonEncapsulatedPolicy.Drop, options.NonEncapsulated);
    }

    [Theory]
    [InlineData("max-depth")]
    [InlineData("reassembly.max-datagram-bytes")]
    [InlineData("reassembly.max-bytes")]
    [InlineData("reassembly.max-datagrams")]
    [InlineData("reassembly.timeout")]
    [InlineData("geneve-ports")]
    [InlineData("vxlan-ports")]
    public void Each_bad_value_is_named_by_its_key(string key)
    {
        var options = new DecapOptions();
        switch (key)
        {
            case "max-depth": options.MaxDepth = 9; break;
            case "reassembly.max-datagram-bytes": options.ReassemblyMaxDatagramBytes = 70000; break;
            case "reassembly.max-bytes": options.ReassemblyMaxBytes = 1000; break;
            case "reassembly.max-datagrams": options.ReassemblyMaxDatagrams = 0; break;
            case "reassembly.timeout": options.ReassemblyTimeout = TimeSpan.Zero; break;
            case "geneve-ports": options.GenevePorts = [4789]; break;
            default: options.VxlanPorts = [0]; break;
        }

        var problem = options.Validate();

        Assert.NotNull(problem);
        Assert.StartsWith(key + ":", problem, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new Decapsulator(options));
    }

    [Theory]
    [InlineData("02:00:00:00:00:01", 0x020000000001UL)]
    [InlineData("AA-BB-CC-DD-EE-FF", 0xAABBCCDDEEFFUL)]
    public void Mac_addresses_parse_and_print(string text, ulong value)
    {
        Assert.True(MacAddress.TryParse(text, out var mac));
        Assert.Equal(value, mac.Value);
        Assert.Equal(text.ToLowerInvariant().Replace('-', ':'), mac.ToString());
    }

    [Theory]
    [InlineData("02:00:00:00:00")]
    [InlineData("02:00:00:00:00:0g")]
    [InlineData("02.00.00.00.00.01")]
    [InlineData(null)]
    public void Bad_mac_addresses_are_refused(string? text)
    {
        Assert.False(MacAddress.TryParse(text, out _));
    }
}
