using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Fabric.Protocols.Ovsdb;

namespace Fabric.Protocols.Tests.Ovsdb;

/// <summary>
/// A FAKE OVSDB server (not ovsdb-server): TCP on 127.0.0.1 with a free port, in this process. Each
/// accepted connection runs the test's script with its index (0, 1, ...), so a test can make the
/// first connections hostile and a later one well behaved. Dispose stops accepting and closes
/// every connection.
/// </summary>
internal sealed class HostileOvsdbServer : IAsyncDisposable
{
    /// <summary>A minimal Open_vSwitch schema: Port with an atom, a set and a map column.</summary>
    public const string SchemaJson = """
        {"name":"Open_vSwitch","version":"8.8.0","tables":{"Port":{"columns":{
          "name":{"type":"string"},
          "interfaces":{"type":{"key":{"type":"uuid"},"min":0,"max":"unlimited"}},
          "external_ids":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}}}}}}
        """;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<Peer, int, Task> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;
    private int _accepted;

    public HostileOvsdbServer(Func<Peer, int, Task> script)
    {
        _script = script;
        _listener.Start();
        _accepting = Task.Run(AcceptAsync);
    }

    public OvsdbEndpoint Endpoint => OvsdbEndpoint.Parse($"tcp:127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException)
            {
                return;
            }

            var index = Interlocked.Increment(ref _accepted) - 1;
            lock (_connections)
            {
                _connections.Add(Task.Run(async () =>
                {
                    using (client)
                    {
                        var peer = new Peer(client.GetStream(), _stop.Token);
                        try
                        {
                            await _script(peer, index);
                        }
                        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
                        {
                            // The client dropped the connection (what the hostile scripts expect) or the test ended.
                        }
                    }
                }));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Task[] running;
        lock (_connections)
        {
            running = [.. _connections];
        }

        await Task.WhenAll(running);
        _stop.Dispose();
    }

    /// <summary>One accepted connection, seen from the server.</summary>
    internal sealed class Peer(NetworkStream stream, CancellationToken stop)
    {
        private readonly JsonStreamFramer _framer = new();
        private readonly byte[] _buffer = new byte[64 * 1024];

        /// <summary>Bytes written to this connection so far.</summary>
        public long BytesSent { get; private set; }

        /// <summary>The next request from the client (echo requests included).</summary>
        public async Task<JsonObject> ReadAsync()
        {
            while (true)
            {
                if (_framer.TryReadMessage(out var message))
                {
                    return (JsonObject)JsonNode.Parse(message.Span)!;
                }

                var n = await stream.ReadAsync(_buffer, stop);
                if (n == 0)
                {
                    throw new IOException("the client closed the connection");
                }

                _framer.Append(_buffer.AsSpan(0, n));
            }
        }

        public async Task SendAsync(string text) => await SendAsync(Encoding.UTF8.GetBytes(text));

        public async Task SendAsync(byte[] bytes)
        {
            await stream.WriteAsync(bytes, stop);
            BytesSent += bytes.Length;
        }

        /// <summary>Answers get_schema and monitor_cond the way ovsdb-server does.</summary>
        public async Task HandshakeAsync(string initial, string schema = SchemaJson)
        {
            var getSchema = await ReadAsync();
            await SendAsync($$"""{"id":{{getSchema["id"]!.ToJsonString()}},"result":{{schema}},"error":null}""");
            var monitor = await ReadAsync();
            await SendAsync($$"""{"id":{{monitor["id"]!.ToJsonString()}},"result":{{initial}},"error":null}""");
        }

        /// <summary>Reads (and drops) whatever the client sends until it closes the connection.</summary>
        public async Task DrainUntilClosedAsync()
        {
            while (await stream.ReadAsync(_buffer, stop) > 0)
            {
            }
        }

        /// <summary>Keeps the connection open until the test ends or the client closes it.</summary>
        public Task HoldAsync() => DrainUntilClosedAsync();
    }
}
