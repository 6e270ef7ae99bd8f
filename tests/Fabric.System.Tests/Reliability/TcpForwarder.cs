using System.Net;
using System.Net.Sockets;

namespace Fabric.System.Tests.Reliability;

/// <summary>
/// Forwards TCP connections accepted on a socket inside a network namespace to an endpoint of
/// the root namespace: how the nodes in their namespaces reach the host's PostgreSQL on
/// 127.0.0.1:5432 (a namespace cannot reach the host's loopback) without reconfiguring
/// PostgreSQL or installing anything. Dispose closes the listener and every connection.
/// </summary>
internal sealed class TcpForwarder : IDisposable
{
    private readonly Socket _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _open = [];
    private readonly Task _accepting;

    public TcpForwarder(NamespaceSockets listenIn, IPAddress listenAddress, IPEndPoint target)
    {
        _target = target;
        _listener = listenIn.Create(SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(listenAddress, 0));
        _listener.Listen(64);
        Endpoint = (IPEndPoint)_listener.LocalEndPoint!;
        _accepting = AcceptAsync();
    }

    /// <summary>Where the nodes connect (inside the listening namespace).</summary>
    public IPEndPoint Endpoint { get; }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket inbound;
            try
            {
                inbound = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(inbound);
        }
    }

    private async Task ServeAsync(Socket inbound)
    {
        var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        lock (_open)
        {
            _open.Add(inbound);
            _open.Add(outbound);
        }

        try
        {
            await outbound.ConnectAsync(_target, _stop.Token).ConfigureAwait(false);
            await Task.WhenAny(PumpAsync(inbound, outbound), PumpAsync(outbound, inbound)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // the connection ends; both sides are closed below
        }
        finally
        {
            lock (_open)
            {
                _open.Remove(inbound);
                _open.Remove(outbound);
            }

            inbound.Dispose();
            outbound.Dispose();
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16384];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                var sent = 0;
                while (sent < read)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, _stop.Token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // closed from either side
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        lock (_open)
        {
            foreach (var socket in _open)
            {
                socket.Dispose();
            }
        }

        _accepting.Wait(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}
