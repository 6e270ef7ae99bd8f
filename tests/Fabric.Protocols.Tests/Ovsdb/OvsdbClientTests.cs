using Xunit;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Fabric.Protocols.Ovsdb;

namespace Fabric.Protocols.Tests.Ovsdb;

[Collection(OvsdbServerCollection.Name)]
public sealed class OvsdbClientTests(OvsdbServerFixture server)
{
    private const string Db = "Open_vSwitch";

    private static async Task<Guid> EnsureRootAsync(OvsdbClient client)
    {
        var rows = await client.TransactAsync(Db, [new JsonObject { ["op"] = "select", ["table"] = "Open_vSwitch", ["where"] = new JsonArray(), ["columns"] = new JsonArray("_uuid") }]);
        if (rows[0]!["rows"] is JsonArray { Count: > 0 } existing)
        {
            return OvsdbJson.UuidOf(existing[0]!["_uuid"]);
        }

        var inserted = await client.TransactAsync(Db, [OvsdbJson.Insert("Open_vSwitch", [])]);
        return OvsdbJson.UuidOf(inserted[0]!["uuid"]);
    }

    private static JsonObject[] AddBridge(Guid root, string name) =>
    [
        OvsdbJson.Insert("Bridge", new JsonObject { ["name"] = name }, "br"),
        OvsdbJson.Mutate("Open_vSwitch", OvsdbJson.WhereUuid(root), "bridges", "insert", OvsdbJson.Set([OvsdbJson.NamedUuid("br")])),
    ];

    [Fact]
    public async Task Lists_databases_and_reads_the_schema()
    {
        await using var client = await OvsdbClient.ConnectAsync(OvsdbEndpoint.Parse(server.Endpoint));
        Assert.Contains(Db, await client.ListDatabasesAsync());
        var schema = await client.GetSchemaAsync(Db);
        Assert.Equal(OvsdbColumnKind.Set, schema.KindOf("Bridge", "mirrors"));
    }

    [Fact]
    public async Task Transaction_and_monitor_update2_arrive_in_order()
    {
        await using var client = await OvsdbClient.ConnectAsync(OvsdbEndpoint.Parse(server.Endpoint));
        var root = await EnsureRootAsync(client);
        var schema = await client.GetSchemaAsync(Db);
        var replica = new OvsdbReplica(schema);
        var updates = new BlockingCollection<JsonObject>();
        client.Update2 += (_, u) =>
        {
            lock (replica)
            {
                replica.Apply(u);
            }

            updates.Add(u);
        };
        await client.MonitorCondAsync(Db, "m1", new JsonObject { ["Bridge"] = new JsonArray(new JsonObject { ["columns"] = new JsonArray("name") }) }, initial =>
        {
            lock (replica)
            {
                replica.Apply(initial);
            }
        });

        var name = "fm-br-" + Guid.NewGuid().ToString("N")[..6];
        var results = await client.TransactAsync(Db, AddBridge(root, name));
        var bridgeUuid = OvsdbJson.UuidOf(results[0]!["uuid"]);

        Assert.True(updates.TryTake(out var update, TimeSpan.FromSeconds(5)));
        Assert.Contains(bridgeUuid.ToString("D"), update!["Bridge"]!.AsObject().Select(p => p.Key));
        lock (replica)
        {
            Assert.Equal(name, replica.Table("Bridge")[bridgeUuid].GetString("name"));
        }
    }

    [Fact]
    public async Task Failed_operation_is_an_error_naming_the_operation()
    {
        await using var client = await OvsdbClient.ConnectAsync(OvsdbEndpoint.Parse(server.Endpoint));
        // Bridge is not a root table: inserting one that nothing references violates referential integrity at commit.
        var ex = await Assert.ThrowsAsync<OvsdbErrorException>(() => client.TransactAsync(Db, [OvsdbJson.Insert("Bridge", new JsonObject { ["no_such_column"] = 1 })]));
        Assert.Equal(0, ex.OperationIndex);
        Assert.Contains("unknown column", ex.Message, StringComparison.Ordinal);
        // The connection stays usable.
        Assert.Contains(Db, await client.ListDatabasesAsync());
    }

    [Fact]
    public async Task Session_resynchronises_after_the_server_is_killed_and_restarted()
    {
        var listener = new RecordingListener();
        await using (var session = new OvsdbSession(
            OvsdbEndpoint.Parse(server.Endpoint),
            new OvsdbSessionOptions
            {
                MonitorRequests = new JsonObject { ["Bridge"] = new JsonArray(new JsonObject { ["columns"] = new JsonArray("name") }) },
                MinBackoff = TimeSpan.FromMilliseconds(50),
                MaxBackoff = TimeSpan.FromMilliseconds(400),
            },
            listener))
        {
            session.Start();
            Assert.True(listener.Snapshots.TryTake(out _, TimeSpan.FromSeconds(10)));

            var name = "fm-rs-" + Guid.NewGuid().ToString("N")[..6];
            await using (var writer = await OvsdbClient.ConnectAsync(OvsdbEndpoint.Parse(server.Endpoint)))
            {
                var root = await EnsureRootAsync(writer);
                await writer.TransactAsync(Db, AddBridge(root, name));
            }

            server.Kill();
            Assert.True(listener.Disconnects.TryTake(out var reason, TimeSpan.FromSeconds(10)));
            Assert.False(string.IsNullOrEmpty(reason));
            await Assert.ThrowsAsync<OvsdbConnectionException>(() => session.TransactAsync([]));

            server.Start();
            Assert.True(listener.Snapshots.TryTake(out var snapshot, TimeSpan.FromSeconds(10)));
            // The full contents again, from the same database: the bridge written before the kill is there.
            Assert.Contains(snapshot!["Bridge"]!.AsObject(), p => p.Value!["initial"]!["name"]!.GetValue<string>() == name);
            Assert.True(session.IsConnected);
            var results = await session.TransactAsync([OvsdbJson.Comment("after restart")]);
            Assert.Single(results);
        }
    }

    [Fact]
    public async Task Echo_requests_are_answered_without_a_jsonrpc_member()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var connect = OvsdbClient.ConnectAsync(OvsdbEndpoint.Parse($"tcp:127.0.0.1:{port}"), new OvsdbClientOptions { InactivityProbe = TimeSpan.Zero });
        using var peer = await listener.AcceptTcpClientAsync();
        await using var client = await connect;
        var stream = peer.GetStream();

        // Two requests in one write, no delimiter, as ovsdb-server does it.
        await stream.WriteAsync(Encoding.UTF8.GetBytes("""{"id":"echo","method":"echo","params":["a",1]}{"id":7,"method":"echo","params":[]}"""));
        var framer = new JsonStreamFramer();
        var replies = new List<JsonObject>();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (replies.Count < 2)
        {
            var n = await stream.ReadAsync(buffer, timeout.Token);
            Assert.NotEqual(0, n);
            framer.Append(buffer.AsSpan(0, n));
            while (framer.TryReadMessage(out var m))
            {
                replies.Add((JsonObject)JsonNode.Parse(m.Span)!);
            }
        }

        Assert.Equal("""{"result":["a",1],"error":null,"id":"echo"}""", replies[0].ToJsonString());
        Assert.Equal("""{"result":[],"error":null,"id":7}""", replies[1].ToJsonString());
        Assert.All(replies, r => Assert.False(r.ContainsKey("jsonrpc")));
    }

    [Fact]
    public async Task Garbage_from_the_server_closes_the_connection_and_fails_pending_requests()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var connect = OvsdbClient.ConnectAsync(OvsdbEndpoint.Parse($"tcp:127.0.0.1:{port}"));
        using var peer = await listener.AcceptTcpClientAsync();
        await using var client = await connect;
        var pending = client.ListDatabasesAsync();
        await peer.GetStream().WriteAsync("HTTP/1.1 400 Bad Request\r\n"u8.ToArray());
        var reason = await client.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("protocol error: expected '{'", reason, StringComparison.Ordinal);
        var ex = await Assert.ThrowsAsync<OvsdbConnectionException>(() => pending);
        Assert.Contains("connection closed", ex.Message, StringComparison.Ordinal);
    }

    private sealed class RecordingListener : IOvsdbSessionListener
    {
        public BlockingCollection<JsonObject> Snapshots { get; } = [];

        public BlockingCollection<string> Disconnects { get; } = [];

        public void OnSnapshot(OvsdbSchema schema, JsonObject initial) => Snapshots.Add(initial);

        public void OnUpdate(JsonObject update)
        {
        }

        public void OnDisconnected(string reason, TimeSpan retryIn) => Disconnects.Add(reason);
    }
}
