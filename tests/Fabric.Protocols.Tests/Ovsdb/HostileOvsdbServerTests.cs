using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Fabric.Protocols.Ovsdb;
using Xunit;

namespace Fabric.Protocols.Tests.Ovsdb;

/// <summary>
/// Issue 8 scenario 7, OVSDB side: an in-process FAKE OVSDB server (TCP on loopback, not
/// ovsdb-server) that sends garbage, truncated and over-deep JSON, an endless string, wrongly
/// typed update2 fields, a broken schema and a flood of updates. The session must refuse each
/// (drop the connection with the reason), reconnect with a growing backoff, never throw to its
/// owner, keep its memory bounded, and resynchronise from a fresh snapshot so the replica ends
/// equal to the server's contents.
/// </summary>
public sealed class HostileOvsdbServerTests
{
    private const string RowA = "6c1b9e55-58a1-4c4d-9d0e-5b8c7d1b2f10";
    private const string RowB = "0b8f6a55-0d3e-4c8e-a0a5-6c3a5e3b9a11";
    private static readonly string GoodInitial = R("""{"Port":{"@A":{"initial":{"name":"tap101i1","interfaces":["set",[]],"external_ids":["map",[["k","v"]]]}}}}""");
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static OvsdbSessionOptions Options(int maxPending = 0, int maxMessageBytes = 1024 * 1024) => new()
    {
        MonitorRequests = new JsonObject { ["Port"] = new JsonArray(new JsonObject { ["columns"] = new JsonArray("name", "interfaces", "external_ids") }) },
        MinBackoff = TimeSpan.FromMilliseconds(20),
        MaxBackoff = TimeSpan.FromSeconds(2),
        MaxPendingUpdates = maxPending,
        Client = new OvsdbClientOptions { InactivityProbe = TimeSpan.Zero, MaxMessageBytes = maxMessageBytes },
    };

    public static TheoryData<string, string, string> Hostile => new()
    {
        { "not JSON", "hello, I am not OVSDB\n", "expected '{' starting a JSON-RPC message" },
        { "a JSON array at the top", "[1,2,3]", "expected '{' starting a JSON-RPC message" },
        { "broken JSON", """{"method":"update2","params":["fabric",{"Port":}]}""", "malformed JSON" },
        { "nested 10000 deep", "{\"a\":" + new string('[', 10_000), "maximum configured depth of 64" },
        { "update2 params not a list", """{"id":null,"method":"update2","params":{"Port":1}}""", "update2: expected params" },
        { "table not an object", """{"id":null,"method":"update2","params":["fabric",{"Port":"nope"}]}""", "table \"Port\": expected an object of row updates, got string" },
        { "row key not a UUID", """{"id":null,"method":"update2","params":["fabric",{"Port":{"../etc":{"insert":{"name":"x"}}}}]}""", "row \"../etc\": not a UUID" },
        { "insert of a number", R("""{"id":null,"method":"update2","params":["fabric",{"Port":{"@B":{"insert":5}}}]}"""), "\"insert\" with number is not a row update" },
        { "two updates of one row", R("""{"id":null,"method":"update2","params":["fabric",{"Port":{"@B":{"insert":{},"delete":null}}}]}"""), "expected one of" },
        { "null atom", R("""{"id":null,"method":"update2","params":["fabric",{"Port":{"@B":{"insert":{"name":null}}}}]}"""), "column \"name\": expected an atom" },
        { "object atom", R("""{"id":null,"method":"update2","params":["fabric",{"Port":{"@B":{"modify":{"name":{"$type":"x"}}}}}]}"""), "column \"name\": expected an atom" },
        { "map column as a string", R("""{"id":null,"method":"update2","params":["fabric",{"Port":{"@B":{"modify":{"external_ids":"x"}}}}]}"""), "column \"external_ids\": expected [\"map\"" },
        { "set of nulls", R("""{"id":null,"method":"update2","params":["fabric",{"Port":{"@B":{"modify":{"interfaces":["set",[null]]}}}}]}"""), "column \"interfaces\": expected an atom" },
        { "map where a set belongs", R("""{"id":null,"method":"update2","params":["fabric",{"Port":{"@B":{"modify":{"interfaces":["map",[]]}}}}]}"""), "column \"interfaces\": a map where the schema has a set" },
        { "map entry of three", R("""{"id":null,"method":"update2","params":["fabric",{"Port":{"@B":{"modify":{"external_ids":["map",[["a","b","c"]]]}}}}]}"""), "a map entry must be [key, value]" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task Hostile_message_after_the_snapshot_drops_the_connection_and_the_session_resynchronises(string what, string payload, string reason)
    {
        // Connections 0-2: a good snapshot, then the hostile message. Connection 3: a good server.
        await using var server = new HostileOvsdbServer(async (peer, index) =>
        {
            await peer.HandshakeAsync(index < 3 ? GoodInitial : R("""{"Port":{"@B":{"initial":{"name":"tap103i1"}}}}"""));
            if (index < 3)
            {
                await peer.SendAsync(payload);
            }

            await peer.HoldAsync();
        });
        var listener = new RecordingListener();
        await using var session = new OvsdbSession(server.Endpoint, Options(), listener);

        session.Start();
        await listener.WaitAsync(() => listener.Snapshots.Count >= 4 && session.IsConnected, "the fourth snapshot", what);

        Assert.Equal(3, listener.Disconnects.Count);
        Assert.All(listener.Disconnects, d => Assert.Contains(reason, d.Reason, StringComparison.Ordinal));
        // The backoff grows while connections end right after they were made.
        Assert.Equal([20, 40, 80], listener.Disconnects.Select(d => (int)d.RetryIn.TotalMilliseconds));
        Assert.Empty(listener.Updates); // nothing malformed reached the listener
        var replica = listener.Replica!;
        Assert.Equal([Guid.Parse(RowB)], replica.Table("Port").Keys);
        Assert.Equal("tap103i1", replica.Table("Port")[Guid.Parse(RowB)].GetString("name"));
    }

    [Theory]
    [InlineData("""{"tables":{"Port":5}}""", "schema: table \"Port\" is not an object")]
    [InlineData("""{"name":7,"tables":{}}""", "schema: \"name\" is not a string")]
    [InlineData("""{"tables":{"Port":{"columns":{"name":[]}}}}""", "schema: column \"Port.name\" is not an object")]
    [InlineData("""{"version":"1"}""", "schema: missing \"tables\"")]
    public async Task A_broken_schema_is_refused_and_retried_with_backoff(string schema, string reason)
    {
        await using var server = new HostileOvsdbServer(async (peer, index) =>
        {
            if (index < 2)
            {
                var request = await peer.ReadAsync();
                await peer.SendAsync("{\"id\":" + request["id"]!.ToJsonString() + ",\"result\":" + schema + ",\"error\":null}");
            }
            else
            {
                await peer.HandshakeAsync(GoodInitial);
            }

            await peer.HoldAsync();
        });
        var listener = new RecordingListener();
        await using var session = new OvsdbSession(server.Endpoint, Options(), listener);

        session.Start();
        await listener.WaitAsync(() => listener.Snapshots.Count == 1, "the snapshot of the good server", schema);

        Assert.Equal(2, listener.Disconnects.Count);
        Assert.All(listener.Disconnects, d => Assert.Contains(reason, d.Reason, StringComparison.Ordinal));
        Assert.Equal([20, 40], listener.Disconnects.Select(d => (int)d.RetryIn.TotalMilliseconds));
    }

    [Fact]
    public async Task An_endless_string_is_cut_at_the_message_limit_without_reading_the_rest()
    {
        const int limit = 1024 * 1024;
        long sentWhenDropped = -1;
        await using var server = new HostileOvsdbServer(async (peer, index) =>
        {
            await peer.HandshakeAsync(GoodInitial);
            if (index == 0)
            {
                var chunk = Encoding.ASCII.GetBytes(new string('x', 64 * 1024));
                await peer.SendAsync("""{"id":null,"method":"update2","params":["fabric",{"Port":{"x":{"insert":{"name":" """);
                try
                {
                    for (var i = 0; i < 4096; i++) // up to 256 MiB
                    {
                        await peer.SendAsync(chunk);
                    }
                }
                finally
                {
                    Interlocked.Exchange(ref sentWhenDropped, peer.BytesSent);
                }
            }

            await peer.HoldAsync();
        });
        var listener = new RecordingListener();
        await using var session = new OvsdbSession(server.Endpoint, Options(maxMessageBytes: limit), listener);

        session.Start();
        await listener.WaitAsync(() => listener.Snapshots.Count >= 2, "the snapshot after the reconnection", "endless string");

        var dropped = Assert.Single(listener.Disconnects);
        Assert.Contains($"exceeds {limit} bytes without ending", dropped.Reason, StringComparison.Ordinal);
        await listener.WaitAsync(() => Interlocked.Read(ref sentWhenDropped) >= 0, "the server's write to fail", "endless string");
        // What the server got out before the client closed: the limit plus socket buffers, far from 256 MiB.
        Assert.InRange(Interlocked.Read(ref sentWhenDropped), limit, 32L * 1024 * 1024);
    }

    [Fact]
    public async Task A_flood_of_updates_is_applied_in_order_and_the_replica_ends_equal_to_the_server()
    {
        const int updates = 20_000;
        await using var server = new HostileOvsdbServer(async (peer, _) =>
        {
            await peer.HandshakeAsync("{}");
            await peer.SendAsync(Encoding.UTF8.GetBytes(FloodText(updates)));
            await peer.HoldAsync();
        });
        var listener = new RecordingListener();
        await using var session = new OvsdbSession(server.Endpoint, Options(), listener);

        session.Start();
        await listener.WaitAsync(() => listener.Updates.Count == updates, $"{updates} updates", "flood");

        Assert.Empty(listener.Disconnects);
        Assert.Equal(ExpectedAfterFlood(updates), listener.Replica!.Table("Port").Keys.Order().ToList());
    }

    [Fact]
    public async Task A_flood_faster_than_the_listener_applies_drops_the_connection_at_the_bound_and_resynchronises()
    {
        const int updates = 20_000;
        const int bound = 200;
        var finalState = R("""{"Port":{"@B":{"initial":{"name":"after-the-flood"}}}}""");
        await using var server = new HostileOvsdbServer(async (peer, index) =>
        {
            if (index == 0)
            {
                await peer.HandshakeAsync("{}");
                await peer.SendAsync(Encoding.UTF8.GetBytes(FloodText(updates)));
            }
            else
            {
                await peer.HandshakeAsync(finalState);
            }

            await peer.HoldAsync();
        });
        var listener = new SlowListener();
        await using var session = new OvsdbSession(server.Endpoint, Options(maxPending: bound), listener);
        listener.Start(session);

        session.Start();
        await listener.Recorder.WaitAsync(() => listener.Recorder.Snapshots.Count >= 2 && listener.Backlog == 0, "the resynchronising snapshot, all applied", "slow flood");

        var dropped = listener.Recorder.Disconnects[0];
        Assert.Contains($"{bound} updates not yet applied", dropped.Reason, StringComparison.Ordinal);
        Assert.InRange(listener.MaxSeenPending, 1, bound);
        Assert.InRange(listener.Recorder.Updates.Count, bound, updates - 1); // refused part of the flood
        Assert.Equal([Guid.Parse(RowB)], listener.Recorder.Replica!.Table("Port").Keys);
        Assert.Equal(0, session.PendingUpdates);
        await listener.StopAsync();
    }

    /// <summary>
    /// update2 notifications: row i is inserted; every third update deletes the row inserted just
    /// before, so the expected end state is not simply "everything".
    /// </summary>
    private static string FloodText(int count)
    {
        var text = new StringBuilder(count * 140);
        for (var i = 0; i < count; i++)
        {
            var row = i % 3 == 2
                ? """{"@R":{"delete":null}}""".Replace("@R", RowId(i - 1).ToString(), StringComparison.Ordinal)
                : """{"@R":{"insert":{"name":"p@N","external_ids":["map",[["n","@N"]]]}}}""".Replace("@R", RowId(i).ToString(), StringComparison.Ordinal).Replace("@N", i.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
            text.Append("""{"id":null,"method":"update2","params":["fabric",{"Port":""").Append(row).Append("}]}");
        }

        return text.ToString();
    }

    private static List<Guid> ExpectedAfterFlood(int count) =>
        [.. Enumerable.Range(0, count).Where(i => i % 3 == 0 || (i % 3 == 1 && i + 1 == count)).Select(RowId).Order()]; // the last insert has no delete after it

    /// <summary>A message with @A and @B standing for the two row UUIDs.</summary>
    private static string R(string json) => json.Replace("@A", RowA, StringComparison.Ordinal).Replace("@B", RowB, StringComparison.Ordinal);

    private static Guid RowId(int i) => new($"00000000-0000-0000-0000-{i:x12}");

    /// <summary>Applies every snapshot and update to a replica, as an agent does, and records the rest.</summary>
    private sealed class RecordingListener : IOvsdbSessionListener
    {
        private readonly Lock _gate = new();

        public List<JsonObject> Snapshots { get; } = [];

        public ConcurrentQueue<JsonObject> Updates { get; } = new();

        public List<(string Reason, TimeSpan RetryIn)> Disconnects { get; } = [];

        public OvsdbReplica? Replica { get; private set; }

        public void OnSnapshot(OvsdbSchema schema, JsonObject initial)
        {
            lock (_gate)
            {
                Replica = new OvsdbReplica(schema);
                Replica.Apply(initial);
                Snapshots.Add(initial);
            }
        }

        public void OnUpdate(JsonObject update)
        {
            lock (_gate)
            {
                Replica!.Apply(update);
                Updates.Enqueue(update);
            }
        }

        public void OnDisconnected(string reason, TimeSpan retryIn)
        {
            lock (_gate)
            {
                Disconnects.Add((reason, retryIn));
            }
        }

        public async Task WaitAsync(Func<bool> condition, string what, string caseName)
        {
            var deadline = DateTime.UtcNow + Wait;
            while (true)
            {
                lock (_gate)
                {
                    if (condition())
                    {
                        return;
                    }
                }

                Assert.True(DateTime.UtcNow < deadline,
                    $"{caseName}: no {what} within {Wait.TotalSeconds} s; snapshots {Snapshots.Count}, updates {Updates.Count}, disconnects: {string.Join(" | ", Disconnects.Select(d => d.Reason))}");
                await Task.Delay(20);
            }
        }
    }

    /// <summary>
    /// Hands snapshots and updates, in order, to a consumer that applies one update per millisecond
    /// (an agent behind a busy mailbox) and acknowledges each.
    /// </summary>
    private sealed class SlowListener : IOvsdbSessionListener
    {
        private readonly Channel<(OvsdbSchema? Schema, JsonObject Body)> _queue = Channel.CreateUnbounded<(OvsdbSchema?, JsonObject)>();
        private Task? _consumer;
        private int _backlog;
        private int _maxSeenPending;

        public RecordingListener Recorder { get; } = new();

        public int Backlog => Volatile.Read(ref _backlog);

        public int MaxSeenPending => Volatile.Read(ref _maxSeenPending);

        public void Start(OvsdbSession session) => _consumer = Task.Run(async () =>
        {
            await foreach (var (schema, body) in _queue.Reader.ReadAllAsync())
            {
                if (schema is not null)
                {
                    Recorder.OnSnapshot(schema, body);
                    continue;
                }

                await Task.Delay(1);
                Recorder.OnUpdate(body);
                Interlocked.Decrement(ref _backlog);
                session.UpdateApplied();
            }
        });

        public void OnSnapshot(OvsdbSchema schema, JsonObject initial) => _queue.Writer.TryWrite((schema, initial));

        public void OnUpdate(JsonObject update)
        {
            var backlog = Interlocked.Increment(ref _backlog);
            if (backlog > _maxSeenPending)
            {
                Volatile.Write(ref _maxSeenPending, backlog);
            }

            _queue.Writer.TryWrite((null, update));
        }

        public void OnDisconnected(string reason, TimeSpan retryIn) => Recorder.OnDisconnected(reason, retryIn);

        public async Task StopAsync()
        {
            _queue.Writer.Complete();
            await _consumer!;
        }
    }
}
