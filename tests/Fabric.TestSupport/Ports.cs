using System.Net;
using System.Net.Sockets;

namespace Fabric.Tests;

/// <summary>
/// The tests' one source of free TCP ports on 127.0.0.1. The OS hands out a port that is free now
/// and may hand the same one out again as soon as the probe closes, so two ports taken in a row for
/// one node (management and remoting) could be equal; a port is therefore never given twice in a
/// test process.
/// </summary>
public static class Ports
{
    private static readonly HashSet<int> Given = [];
    private static readonly Lock Gate = new();

    /// <summary>A port that is free now and that no earlier call in this process returned.</summary>
    public static int Free()
    {
        lock (Gate)
        {
            for (int attempt = 0; attempt < 1000; attempt++)
            {
                using var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                int port = ((IPEndPoint)listener.LocalEndpoint).Port;
                if (Given.Add(port))
                {
                    return port;
                }
            }

            throw new InvalidOperationException($"no free TCP port on 127.0.0.1 that was not already given out ({Given.Count} given)");
        }
    }
}
