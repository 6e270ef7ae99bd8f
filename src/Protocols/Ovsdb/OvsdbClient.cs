using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;

namespace Fabric.Protocols.Ovsdb;

/// <summary>Options of one OVSDB connection.</summary>
public sealed record OvsdbClientOptions
{
    /// <summary>
    /// After this long without receiving anything, send an <c>echo</c>; after twice this long, drop the
    /// connection as dead (like ovsdb-server's own inactivity probe). Zero disables the probe.
    /// </summary>
    public TimeSpan InactivityProbe { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest message accepted from the server.</summary>
    public int MaxMessageBytes { get; init; } = JsonStreamFramer.DefaultMaxMessageBytes;
}

/// <summary>
/// One JSON-RPC 1.0 connection to an OVSDB server (RFC 7047). Requests are matched to replies by id;
/// the server's <c>echo</c> requests are answered; <c>update2</c> notifications (from
/// <c>monitor_cond</c>) are raised on the reader loop, in the order the server sent them.
/// </summary>
/// <remarks>
/// Messages never carry a <c>"jsonrpc"</c> member: ovsdb-server drops a connection that sends one.
/// When the connection ends (server gone, protocol error, probe timeout, dispose) every pending
/// request fails with <see cref="OvsdbConnectionException"/> and <see cref="Completion"/> finishes
/// with the reason. No reconnection here: <see cref="OvsdbSession"/> does that.
/// </remarks>
public sealed class OvsdbClient : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly OvsdbClientOptions _options;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Dictionary<long, Action<JsonNode?, JsonNode?, Exception?>> _pending = [];
    private readonly Lock _pendingLock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<string> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _name;
    private readonly JsonStreamFramer _framer;
    private long _nextId;
    private long _lastReceiveTicks;
    private string? _closeReason;
    private Task? _readLoop;
    private Task? _probeLoop;

    private OvsdbClient(Stream stream, OvsdbClientOptions options, string name)
    {
        _stream = stream;
        _options = options;
        _name = name;
        _framer = new JsonStreamFramer(options.MaxMessageBytes);
        _lastReceiveTicks = Environment.TickCount64;
    }

    // As deep as the framer accepts, so a message the framer passed is not refused by the parser for depth alone.
    // A member name twice in one object is refused here (RFC 7047 objects have unique names); accepted, it
    // threw ArgumentException later, wherever the object was first read.
    private static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = JsonStreamFramer.MaxDepth, AllowDuplicateProperties = false };

    /// <summary>Raised on the reader loop for every <c>update2</c> notification: (monitor id, table-updates2).</summary>
    public event Action<JsonNode?, JsonObject>? Update2;

    /// <summary>Finishes, with the reason as text, when the connection has ended.</summary>
    public Task<string> Completion => _completion.Task;

    /// <summary>Whether the connection is still up.</summary>
    public bool IsConnected => !_completion.Task.IsCompleted;

    /// <summary>Connects to <paramref name="endpoint"/> and starts reading.</summary>
    public static async Task<OvsdbClient> ConnectAsync(OvsdbEndpoint endpoint, OvsdbClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var stream = await endpoint.ConnectAsync(cancellationToken).ConfigureAwait(false);
        var client = new OvsdbClient(stream, options ?? new OvsdbClientOptions(), endpoint.ToString());
        client.Start();
        return client;
    }

    /// <summary>Wraps an already connected stream (tests; custom transports).</summary>
    public static OvsdbClient FromStream(Stream stream, OvsdbClientOptions? options = null, string name = "stream")
    {
        var client = new OvsdbClient(stream, options ?? new OvsdbClientOptions(), name);
        client.Start();
        return client;
    }

    /// <summary>
    /// A client over <paramref name="stream"/> that does not read it: bytes are handed to
    /// <see cref="Receive"/> by the caller (the fuzz target). Writes still go to the stream.
    /// </summary>
    internal static OvsdbClient Unstarted(Stream stream, OvsdbClientOptions options, string name) => new(stream, options, name);

    private void Start()
    {
        _readLoop = Task.Run(ReadLoopAsync);
        if (_options.InactivityProbe > TimeSpan.Zero)
        {
            _probeLoop = Task.Run(ProbeLoopAsync);
        }
    }

    /// <summary>Sends a request; the reply's <c>result</c>, or <see cref="OvsdbErrorException"/> for its <c>error</c>.</summary>
    public Task<JsonNode?> RequestAsync(string method, JsonArray parameters, CancellationToken cancellationToken = default)
    {
        var tcs = new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var registration = cancellationToken.Register(() => tcs.TrySetCanceled(cancellationToken));
        SendRequest(method, parameters, (result, error, failure) =>
        {
            registration.Dispose();
            if (failure is not null)
            {
                tcs.TrySetException(failure);
            }
            else if (error is not null)
            {
                tcs.TrySetException(ErrorFrom(error, null));
            }
            else
            {
                tcs.TrySetResult(result);
            }
        });
        return tcs.Task;
    }

    /// <summary>
    /// Sends a request whose reply is handed to <paramref name="onReply"/> on the reader loop itself,
    /// before any later message is processed (used to order a monitor's initial contents before its updates).
    /// </summary>
    public void SendRequest(string method, JsonArray parameters, Action<JsonNode? /*result*/, JsonNode? /*error*/, Exception? /*failure*/> onReply)
    {
        ArgumentNullException.ThrowIfNull(onReply);
        var id = Interlocked.Increment(ref _nextId);
        lock (_pendingLock)
        {
            if (_closeReason is not null)
            {
                onReply(null, null, new OvsdbConnectionException($"{_name}: connection closed: {_closeReason}"));
                return;
            }

            _pending[id] = onReply;
        }

        var message = new JsonObject { ["method"] = method, ["params"] = parameters, ["id"] = id };
        _ = WriteAsync(message);
    }

    /// <summary>RFC 7047 4.1.1 <c>list_dbs</c>.</summary>
    public async Task<IReadOnlyList<string>> ListDatabasesAsync(CancellationToken cancellationToken = default)
    {
        var result = await RequestAsync("list_dbs", [], cancellationToken).ConfigureAwait(false);
        return DatabasesFrom(result);
    }

    /// <summary>The database names in a <c>list_dbs</c> result.</summary>
    /// <exception cref="OvsdbProtocolException">An element is not a string.</exception>
    internal static string[] DatabasesFrom(JsonNode? result)
    {
        if (result is not JsonArray array)
        {
            return [];
        }

        var names = new string[array.Count];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = array[i] is JsonValue name && name.GetValueKind() == JsonValueKind.String
                ? name.GetValue<string>()
                : throw new OvsdbProtocolException($"list_dbs: element {i} of the result is not a string");
        }

        return names;
    }

    /// <summary>RFC 7047 4.1.2 <c>get_schema</c>.</summary>
    public async Task<OvsdbSchema> GetSchemaAsync(string database, CancellationToken cancellationToken = default)
    {
        var result = await RequestAsync("get_schema", [database], cancellationToken).ConfigureAwait(false);
        return OvsdbSchema.Parse(result as JsonObject ?? throw new OvsdbProtocolException($"get_schema {database}: expected an object"));
    }

    /// <summary>
    /// RFC 7047 4.1.3 <c>transact</c>. Returns the per-operation results; throws
    /// <see cref="OvsdbErrorException"/> naming the first failed operation (the whole transaction was then rolled back).
    /// </summary>
    public async Task<JsonArray> TransactAsync(string database, IEnumerable<JsonObject> operations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operations);
        var parameters = new JsonArray { database };
        var count = 0;
        foreach (var op in operations)
        {
            parameters.Add(op);
            count++;
        }

        var result = await RequestAsync("transact", parameters, cancellationToken).ConfigureAwait(false);
        return TransactResultsFrom(result, count);
    }

    /// <summary>The per-operation results of a <c>transact</c> reply of <paramref name="count"/> operations.</summary>
    /// <exception cref="OvsdbProtocolException">The result is not an array.</exception>
    /// <exception cref="OvsdbErrorException">An operation failed.</exception>
    internal static JsonArray TransactResultsFrom(JsonNode? result, int count)
    {
        if (result is not JsonArray results)
        {
            throw new OvsdbProtocolException("transact: expected an array of results");
        }

        for (var i = 0; i < results.Count; i++)
        {
            if (results[i] is JsonObject r && r["error"] is JsonNode e && e.GetValueKind() == JsonValueKind.String)
            {
                throw ErrorFrom(e, r["details"], i < count ? i : null);
            }
        }

        return results;
    }

    /// <summary>
    /// <c>monitor_cond</c> (ovsdb-server(7)): starts a monitor whose changes arrive as <c>update2</c>
    /// notifications (<see cref="Update2"/>). <paramref name="onInitial"/> receives the initial contents
    /// (table-updates2 with <c>initial</c> rows) on the reader loop, before any update of this monitor.
    /// </summary>
    public Task MonitorCondAsync(string database, JsonNode monitorId, JsonObject requests, Action<JsonObject> onInitial)
    {
        ArgumentNullException.ThrowIfNull(onInitial);
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        SendRequest("monitor_cond", [database, monitorId, requests], (result, error, failure) =>
        {
            if (failure is not null)
            {
                tcs.TrySetException(failure);
                return;
            }

            if (error is not null)
            {
                tcs.TrySetException(ErrorFrom(error, null));
                return;
            }

            try
            {
                onInitial(result as JsonObject ?? []);
                tcs.TrySetResult();
            }
#pragma warning disable CA1031 // the handler's failure belongs to the caller, not to the reader loop
            catch (Exception ex)
#pragma warning restore CA1031
            {
                tcs.TrySetException(ex);
            }
        });
        return tcs.Task;
    }

    /// <summary>Sends <c>echo</c> and waits for the reply.</summary>
    public Task EchoAsync(CancellationToken cancellationToken = default) => RequestAsync("echo", ["fabric"], cancellationToken);

    /// <summary>The exception for a reply's <c>error</c> (or a failed operation's, with its details and index).</summary>
    internal static OvsdbErrorException ErrorFrom(JsonNode error, JsonNode? details, int? index = null)
    {
        string text;
        string? detailText = details?.ToJsonString();
        if (error.GetValueKind() == JsonValueKind.String)
        {
            text = error.GetValue<string>();
        }
        else if (error is JsonObject o && o["error"] is JsonNode inner)
        {
            text = inner.GetValueKind() == JsonValueKind.String ? inner.GetValue<string>() : inner.ToJsonString();
            detailText ??= o["details"] is JsonNode d ? (d.GetValueKind() == JsonValueKind.String ? d.GetValue<string>() : d.ToJsonString()) : null;
        }
        else
        {
            text = error.ToJsonString();
        }

        if (details is not null && details.GetValueKind() == JsonValueKind.String)
        {
            detailText = details.GetValue<string>();
        }

        return new OvsdbErrorException(text, detailText, index);
    }

    private async Task WriteAsync(JsonObject message)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(message);
        try
        {
            await _writeLock.WaitAsync(_stop.Token).ConfigureAwait(false);
            try
            {
                await _stream.WriteAsync(bytes, _stop.Token).ConfigureAwait(false);
                await _stream.FlushAsync(_stop.Token).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (OperationCanceledException)
        {
            // closing
        }
        catch (IOException ex)
        {
            Close($"write failed: {ex.Message}");
        }
        catch (ObjectDisposedException)
        {
            Close("stream closed");
        }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await _stream.ReadAsync(buffer, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    Close("the server closed the connection");
                    return;
                }

                Volatile.Write(ref _lastReceiveTicks, Environment.TickCount64);
                Receive(buffer.AsSpan(0, n));
            }
        }
        catch (OperationCanceledException)
        {
            Close(_closeReason ?? "closed");
        }
        catch (OvsdbProtocolException ex)
        {
            Close($"protocol error: {ex.Message}");
        }
        catch (IOException ex)
        {
            Close($"read failed: {ex.Message}");
        }
        catch (ObjectDisposedException)
        {
            Close("stream closed");
        }
        catch (OvsdbException ex)
        {
            // An update handler refused the update (e.g. its backlog is full): drop the connection.
            Close(ex.Message);
        }
#pragma warning disable CA1031 // a handler's bug must end this connection (and be reported), not leave it hanging with a dead reader
        catch (Exception ex) when (ex is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            Close($"message handling failed: {ex.GetType().Name}: {ex.Message}");
        }
    }

    /// <summary>
    /// Handles bytes received from the server on the calling thread: frames them into messages,
    /// parses each and dispatches it (replies to their callbacks, <c>echo</c> answered, <c>update2</c>
    /// raised). The read loop calls it; the fuzz target drives it directly.
    /// </summary>
    /// <exception cref="OvsdbProtocolException">The bytes are not a sequence of JSON-RPC objects; the connection must be dropped.</exception>
    internal void Receive(ReadOnlySpan<byte> data)
    {
        _framer.Append(data);
        while (_framer.TryReadMessage(out var message))
        {
            // JSON is UTF-8 (RFC 8259); the reader checks structure, not every string's encoding, and a
            // bad sequence would surface later as an InvalidOperationException wherever a name or string is read.
            if (!Utf8.IsValid(message.Span))
            {
                throw new OvsdbProtocolException("a JSON-RPC message is not valid UTF-8");
            }

            JsonNode? node;
            try
            {
                node = JsonNode.Parse(message.Span, documentOptions: ParseOptions);
            }
            catch (JsonException ex)
            {
                throw new OvsdbProtocolException($"malformed JSON-RPC message: {ex.Message}", ex);
            }

            Dispatch(node as JsonObject ?? throw new OvsdbProtocolException("expected a JSON object"));
        }
    }

    private void Dispatch(JsonObject message)
    {
        if (message["method"] is JsonNode methodNode)
        {
            var method = methodNode.GetValueKind() == JsonValueKind.String ? methodNode.GetValue<string>() : "";
            var id = message["id"];
            var parameters = message["params"] as JsonArray;
            switch (method)
            {
                case "echo":
                    _ = WriteAsync(new JsonObject { ["result"] = parameters?.DeepClone() ?? new JsonArray(), ["error"] = null, ["id"] = id?.DeepClone() });
                    break;
                case "update2" when parameters is { Count: >= 2 } && parameters[1] is JsonObject updates:
                    Update2?.Invoke(parameters[0], updates);
                    break;
                case "update2":
                    throw new OvsdbProtocolException("update2: expected params [<monitor-id>, {<table-updates2>}]");
                default:
                    if (id is not null && id.GetValueKind() != JsonValueKind.Null)
                    {
                        _ = WriteAsync(new JsonObject { ["result"] = null, ["error"] = $"unknown method {method}", ["id"] = id.DeepClone() });
                    }

                    break;
            }

            return;
        }

        // Our ids are positive integers; any other id (1.5, 1e30, a string) answers nothing we sent: ignore.
        if (message["id"] is not JsonValue idNode || idNode.GetValueKind() != JsonValueKind.Number || !idNode.TryGetValue<long>(out var replyId))
        {
            return;
        }

        Action<JsonNode?, JsonNode?, Exception?>? callback;
        lock (_pendingLock)
        {
            if (_pending.Remove(replyId, out callback) is false)
            {
                return;
            }
        }

        var error = message["error"];
        if (error is not null && error.GetValueKind() == JsonValueKind.Null)
        {
            error = null;
        }

        callback(message["result"], error, null);
    }

    private async Task ProbeLoopAsync()
    {
        var probe = _options.InactivityProbe;
        var echoSent = false;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(probe / 4, _stop.Token).ConfigureAwait(false);
                var idle = TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastReceiveTicks));
                if (idle >= probe * 2)
                {
                    Close(string.Create(CultureInfo.InvariantCulture, $"no message from the server for {idle.TotalSeconds:0.#} s (inactivity probe)"));
                    return;
                }

                if (idle >= probe && !echoSent)
                {
                    echoSent = true;
                    SendRequest("echo", ["fabric-probe"], (_, _, _) => { });
                }
                else if (idle < probe)
                {
                    echoSent = false;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // closing
        }
    }

    private void Close(string reason)
    {
        List<Action<JsonNode?, JsonNode?, Exception?>> failed;
        lock (_pendingLock)
        {
            if (_closeReason is not null)
            {
                return;
            }

            _closeReason = reason;
            failed = [.. _pending.Values];
            _pending.Clear();
        }

        _stop.Cancel();
        _stream.Dispose();
        var failure = new OvsdbConnectionException($"{_name}: connection closed: {reason}");
        foreach (var callback in failed)
        {
            callback(null, null, failure);
        }

        _completion.TrySetResult(reason);
    }

    public async ValueTask DisposeAsync()
    {
        Close("closed by the client");
        if (_readLoop is not null)
        {
            await _readLoop.ConfigureAwait(false);
        }

        if (_probeLoop is not null)
        {
            await _probeLoop.ConfigureAwait(false);
        }

        _stop.Dispose();
        _writeLock.Dispose();
    }
}
