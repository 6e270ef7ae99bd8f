namespace Fabric.Actors.Tests.Mirrors.Sandbox;

/// <summary>
/// Plays the VMs of the sandbox: writes frames into a VM NIC (as the guest sends them) towards
/// another VM whose MAC the bridge has learned (so the frame is not flooded), and reads what comes
/// out of the sensor's NIC.
/// </summary>
internal sealed class VmTraffic : IDisposable
{
    public static readonly byte[] Vm101Mac = TestFrames.Mac(0x01);
    public static readonly byte[] OtherMac = TestFrames.Mac(0x02);
    private readonly OvsSandbox _ovs;
    private readonly Dictionary<string, FrameEndpoint> _open = new(StringComparer.Ordinal);

    public VmTraffic(OvsSandbox ovs) => _ovs = ovs;

    public FrameEndpoint Nic(string tap)
    {
        if (!_open.TryGetValue(tap, out var fd))
        {
            fd = FrameEndpoint.OpenTap(tap);
            _open[tap] = fd;
        }

        return fd;
    }

    /// <summary>Closes the VM side of a tap (before Proxmox deletes it).</summary>
    public void Close(string tap)
    {
        if (_open.Remove(tap, out var fd))
        {
            fd.Dispose();
        }
    }

    /// <summary>The other VM announces itself until the bridge has learned its MAC on its port.</summary>
    public void LearnOtherVm()
    {
        var mac = string.Join(':', OtherMac.Select(b => b.ToString("x2", global::System.Globalization.CultureInfo.InvariantCulture)));
        var broadcast = new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        OvsSandbox.WaitFor(
            () =>
            {
                Nic(_ovs.OtherVmTap).Send(TestFrames.Build(broadcast, OtherMac, TestFrames.NewMarker()));
                return _ovs.Appctl("fdb/show", _ovs.Bridge).Contains(mac, StringComparison.Ordinal);
            },
            TimeSpan.FromSeconds(10),
            $"bridge learning {mac}");
    }

    /// <summary>
    /// Sends frames from <paramref name="fromTap"/> (VM 101) to the other VM until one arrives on
    /// <paramref name="sensorTap"/>; false if none did within <paramref name="timeout"/>.
    /// </summary>
    /// <remarks>
    /// <paramref name="etherType"/> selects a separate datapath megaflow: OVS 3.1's userspace
    /// datapath does not re-translate a cached flow when only a Mirror row changed, so a probe
    /// that must see "not mirrored yet" uses another EtherType than the probes after it.
    /// </remarks>
    public bool MirroredWithin(string fromTap, string sensorTap, TimeSpan timeout, ushort etherType = 0x88b5)
    {
        var sensor = Nic(sensorTap);
        sensor.Drain();
        var marker = TestFrames.NewMarker();
        var frame = TestFrames.Build(OtherMac, Vm101Mac, marker);
        frame[12] = (byte)(etherType >> 8);
        frame[13] = (byte)etherType;
        var deadline = DateTime.UtcNow + timeout;
        do
        {
            Nic(fromTap).Send(frame);
            if (sensor.WaitForFrameWith(marker, TimeSpan.FromMilliseconds(100)))
            {
                return true;
            }
        }
        while (DateTime.UtcNow < deadline);
        return false;
    }

    public void Dispose()
    {
        foreach (var fd in _open.Values)
        {
            fd.Dispose();
        }

        _open.Clear();
    }
}
