using Fabric.Actors.Mirrors.Proxmox;
using Xunit;

namespace Fabric.Actors.Tests.Mirrors.Proxmox;

/// <summary>Parsing of PVE <c>netN</c> values and the OVS port names Proxmox gives VM NICs.</summary>
public sealed class ProxmoxClientTests
{
    [Theory]
    // As `qm config 101` prints them (PVE 8).
    [InlineData("virtio=BC:24:11:2E:7A:01,bridge=vmbr1,firewall=1,tag=100", "vmbr1", 100, true)]
    [InlineData("virtio=BC:24:11:2E:7A:02,bridge=vmbr0", "vmbr0", null, false)]
    [InlineData("e1000=BC:24:11:2E:7A:03,bridge=vmbr2,firewall=0,link_down=1,queues=4", "vmbr2", null, false)]
    [InlineData("virtio=BC:24:11:2E:7A:04", null, null, false)]
    public void Net_values_give_bridge_tag_and_firewall(string value, string? bridge, int? tag, bool firewall) =>
        Assert.Equal((bridge, tag, firewall), ProxmoxClient.ParseNet(value));

    [Fact]
    public void Port_names_are_tap_or_fwln_with_the_firewall()
    {
        Assert.Equal("tap101i1", ProxmoxMirrorAgent.PortName(101, 1, firewall: false));
        Assert.Equal("fwln101o1", ProxmoxMirrorAgent.PortName(101, 1, firewall: true));
        Assert.Equal("fwln9999o31", ProxmoxMirrorAgent.PortName(9999, 31, firewall: true));
    }
}
