using System.Net;
using System.Net.Sockets;

namespace Fabric.Node.Tests.Infrastructure;

/// <summary>
/// The tests' port source never gives one port twice: a node once got the same port for its
/// management HTTP and its remoting (the OS handed out the just-closed probe port again) and exited 2.
/// </summary>
public sealed class PortsTests
{
    [Fact]
    public void Five_hundred_ports_in_a_row_are_all_different_and_each_can_be_bound()
    {
        var ports = Enumerable.Range(0, 500).Select(_ => Ports.Free()).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, port => Assert.InRange(port, 1, 65535));
        using var listener = new TcpListener(IPAddress.Loopback, ports[^1]);
        listener.Start();
    }
}
