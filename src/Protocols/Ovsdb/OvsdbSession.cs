using System.Text.Json.Nodes;

namespace Fabric.Protocols.Ovsdb;

/// <summary>Options of a reconnecting OVSDB session.</summary>
public sealed record OvsdbSessionOptions
{
    /// <summary>The database to monitor and transact on.</summary>
    public string Database { get; init; } = "Open_vSwitch";

    /// <summary>
    /// The <c>monitor_cond</c> requests: table name → array of &lt;monitor-cond-request&gt;
    /// (for example <c>{"Port": [{"columns": ["name"]}]}</c>).
    /// </summary>
    public JsonObject MonitorRequests { get; init; } = [];

    /// <summary>First delay before reconnecting; doubled after each failed attempt.</summary>
    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Largest delay between reconnection attempts.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Options of each underlying connection.</summary>
    public OvsdbClientOptions Client { get; init; } = new();

    /// <summary>
    /// Most updates handed to the listener and not yet acknowledged with
    /// <see cref="OvsdbSession.UpdateApplied"/>; one more drops the connection (the session then
    /// reconnects with backoff and resynchronises from a fresh snapshot), so a server flooding
    /// updates faster than they are applied costs bounded memory. 0: no bound (a listener that
    /// applies each update before returning, and never acknowledges).
    /// </summary>
    public int MaxPendingUpdates { get; init; }
}

/// <summary>What a <see cref="OvsdbSession"/> reports. Called on the session's reader loop, one call at a time, in order.</summary>
public interface IOvsdbSessionListener
{
    /// <summary>
    /// A connection is up and the monitor installed: <paramref name="initial"/> is the full contents
    /// (table-updates2 with <c>initial</c> rows). Replaces whatever the listener knew (full resynchronisation).
    /// </summary>
    void OnSnapshot(OvsdbSchema schema, JsonObject initial);

    /// <summary>
    /// An <c>update2</c> notification of the monitor, its shape already checked against the schema
    /// (<see cref="OvsdbUpdateValidator"/>). Throwing <see cref="OvsdbException"/> drops the connection.
    /// </summary>
    void OnUpdate(JsonObject update);

    /// <summary>The connection is down (or could not be made); the next attempt is in <paramref name="retryIn"/>.</summary>
    void OnDisconnected(string reason, TimeSpan retryIn);
}

/// <summary>
/// Keeps one OVSDB connection up: connects, reads the schema, installs a <c>monitor_cond</c>,
/// reports the full contents, then every update; when the connection drops it reconnects with
/// exponential backoff and reports the full contents again (the server may have been reset or
/// replaced meanwhile, so nothing from before is trusted). A server that sends what RFC 7047 does
/// not allow (not JSON, too deep, too long, wrongly typed update2 fields) is refused the same way:
/// the connection is dropped with the reason, and the backoff keeps growing while connections
/// end within <see cref="OvsdbSessionOptions.MaxBackoff"/> of being made.
/// </summary>
public sealed class OvsdbSession : IAsyncDisposable
{
    private static readonly JsonNode MonitorId = JsonValue.Create("fabric")!;
    private readonly OvsdbEndpoint _endpoint;
    private readonly OvsdbSessionOptions _options;
    private readonly IOvsdbSessionListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private volatile OvsdbClient? _current;
    private int _pendingUpdates;
    private Task? _loop;

    public OvsdbSession(OvsdbEndpoint endpoint, OvsdbSessionOptions options, IOvsdbSessionListener listener)
    {
        _endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _listener = listener ?? throw new ArgumentNullException(nameof(listener));
    }

    public OvsdbEndpoint Endpoint => _endpoint;

    /// <summary>Whether a connection with an installed monitor is up.</summary>
    public bool IsConnected => _current?.IsConnected == true;

    /// <summary>Updates handed to the listener and not yet acknowledged (see <see cref="OvsdbSessionOptions.MaxPendingUpdates"/>).</summary>
    public int PendingUpdates => Volatile.Read(ref _pendingUpdates);

    /// <summary>The listener has applied one update it was handed (any thread).</summary>
    public void UpdateApplied() => Interlocked.Decrement(ref _pendingUpdates);

    /// <summary>Starts connecting in the background.</summary>
    public void Start() => _loop ??= Task.Run(RunAsync);

    /// <summary>Runs a transaction on the current connection.</summary>
    /// <exception cref="OvsdbConnectionException">No connection is up.</exception>
    /// <exception cref="OvsdbErrorException">An operation failed; nothing was committed.</exception>
    public Task<JsonArray> TransactAsync(IEnumerable<JsonObject> operations, CancellationToken cancellationToken = default)
    {
        var client = _current;
        if (client is null || !client.IsConnected)
        {
            throw new OvsdbConnectionException($"{_endpoint}: not connected");
        }

        return client.TransactAsync(_options.Database, operations, cancellationToken);
    }

    private async Task RunAsync()
    {
        var backoff = new Backoff(_options.MinBackoff, _options.MaxBackoff);
        while (!_stop.IsCancellationRequested)
        {
            string reason;
            OvsdbClient? client = null;
            long? monitoredSince = null;
            try
            {
                client = await OvsdbClient.ConnectAsync(_endpoint, _options.Client, _stop.Token).ConfigureAwait(false);
                var schema = await client.GetSchemaAsync(_options.Database, _stop.Token).ConfigureAwait(false);
                var monitorReady = false;
                client.Update2 += (_, update) =>
                {
                    if (monitorReady)
                    {
                        OvsdbUpdateValidator.Validate(schema, update, "update2");
                        Hand(update);
                    }
                };
                await client.MonitorCondAsync(_options.Database, MonitorId.DeepClone(), (JsonObject)_options.MonitorRequests.DeepClone(), initial =>
                {
                    OvsdbUpdateValidator.Validate(schema, initial, "monitor_cond reply");
                    _current = client;
                    _listener.OnSnapshot(schema, initial);
                    monitorReady = true;
                }).ConfigureAwait(false);
                monitoredSince = Environment.TickCount64;
                reason = await client.Completion.WaitAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                break;
            }
            catch (OvsdbException ex)
            {
                reason = ex.Message;
            }
            finally
            {
                if (ReferenceEquals(_current, client))
                {
                    _current = null;
                }

                if (client is not null)
                {
                    await client.DisposeAsync().ConfigureAwait(false);
                }
            }

            if (_stop.IsCancellationRequested)
            {
                break;
            }

            // A connection that stayed up for a while starts the backoff again; one the server (or a
            // refused message) ended soon after it was made keeps it growing, so a hostile or broken
            // server is not hammered.
            if (monitoredSince is { } since && Environment.TickCount64 - since >= (long)_options.MaxBackoff.TotalMilliseconds)
            {
                backoff.Reset();
            }

            var delay = backoff.Next();
            _listener.OnDisconnected(reason, delay);
            try
            {
                await Task.Delay(delay, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private void Hand(JsonObject update)
    {
        var max = _options.MaxPendingUpdates;
        if (max > 0)
        {
            var pending = Interlocked.Increment(ref _pendingUpdates);
            if (pending > max)
            {
                Interlocked.Decrement(ref _pendingUpdates);
                throw new OvsdbConnectionException(
                    $"{max} updates not yet applied (the server sends faster than they are applied); dropping the connection to resynchronise");
            }
        }

        _listener.OnUpdate(update);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _stop.Dispose();
    }
}
