using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Fabric.Actors.Tests.Mirrors.Fakes;

/// <summary>
/// An in-process fake of an IOS-XE router's RESTCONF datastore, only the part Fabric uses:
/// <c>/restconf/data/Cisco-IOS-XE-native:native/monitor</c> and <c>…/monitor/session=N</c> with
/// GET, PUT (create/replace) and DELETE, YANG-JSON (<c>application/yang-data+json</c>), basic
/// authentication, RFC 8040 <c>ietf-restconf:errors</c> bodies. Tests change the "router's"
/// sessions behind the agent's back. NOT a router: name tests using it ...AgainstFakeRestconf...
/// </summary>
public sealed class FakeRestconfRouter : IAsyncDisposable
{
    private const string Monitor = "/restconf/data/Cisco-IOS-XE-native:native/monitor";
    private const string SessionMember = "Cisco-IOS-XE-monitor:session";
    private readonly object _gate = new();
    private readonly Dictionary<int, JsonObject> _sessions = [];
    private readonly string _user;
    private FakeHttpsServer? _server;

    private FakeRestconfRouter(string user, string password)
    {
        _user = user;
        Password = password;
    }

    public FakeHttpsServer Server => _server!;

    /// <summary>The password the router accepts (change it to rotate).</summary>
    public string Password { get; set; }

    /// <summary>Every request line the router served (method and path), for assertions.</summary>
    public List<string> Requests { get; } = [];

    /// <summary>When set, PUTs are refused with 400 invalid-value and this message.</summary>
    public string? RefusePuts { get; set; }

    public static async Task<FakeRestconfRouter> StartAsync(string user, string password)
    {
        var router = new FakeRestconfRouter(user, password);
        router._server = await FakeHttpsServer.StartAsync(router.Handle).ConfigureAwait(false);
        return router;
    }

    /// <summary>The session's <c>erspan-source</c> container as the router holds it (a copy), or null.</summary>
    public JsonObject? ErspanSource(int id)
    {
        lock (_gate)
        {
            return _sessions.TryGetValue(id, out var s) ? s["type"]?["erspan-source"]?.DeepClone() as JsonObject : null;
        }
    }

    public bool Has(int id)
    {
        lock (_gate)
        {
            return _sessions.ContainsKey(id);
        }
    }

    /// <summary>Someone typed <c>no monitor session N</c>.</summary>
    public void Delete(int id)
    {
        lock (_gate)
        {
            _sessions.Remove(id);
        }
    }

    /// <summary>Someone typed <c>shutdown</c> in the session.</summary>
    public void Shutdown(int id) => Change(id, e => e["shutdown"] = new JsonArray((JsonNode?)null));

    /// <summary>Changes the session's <c>destination ip address</c>.</summary>
    public void SetDestination(int id, string address) => Change(id, e => e["destination"]!["ip"] = new JsonObject { ["address"] = address });

    /// <summary>Configures a session as another tool or an operator would (no Fabric description).</summary>
    public void Configure(int id, JsonObject erspanSource)
    {
        lock (_gate)
        {
            _sessions[id] = new JsonObject { ["id"] = id, ["type"] = new JsonObject { ["erspan-source"] = erspanSource } };
        }
    }

    public ValueTask DisposeAsync() => _server?.DisposeAsync() ?? ValueTask.CompletedTask;

    private void Change(int id, Action<JsonObject> change)
    {
        lock (_gate)
        {
            change((JsonObject)_sessions[id]["type"]!["erspan-source"]!);
        }
    }

    private async Task Handle(HttpContext context)
    {
        var request = context.Request;
        var path = Uri.UnescapeDataString(request.Path.Value ?? "");
        lock (_gate)
        {
            Requests.Add(request.Method + " " + path);
        }

        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(_user + ":" + Password));
        if (request.Headers.Authorization.ToString() != expected)
        {
            await Error(context, 401, "protocol", "access-denied", "authentication failed").ConfigureAwait(false);
            return;
        }

        if (!request.Headers.Accept.ToString().Contains("application/yang-data+json", StringComparison.Ordinal))
        {
            await Error(context, 406, "protocol", "operation-not-supported", "Accept must be application/yang-data+json").ConfigureAwait(false);
            return;
        }

        int? id = null;
        if (path.StartsWith(Monitor + "/session=", StringComparison.Ordinal))
        {
            if (!int.TryParse(path.AsSpan(Monitor.Length + 9), out var n))
            {
                await Error(context, 400, "protocol", "invalid-value", "bad key").ConfigureAwait(false);
                return;
            }

            id = n;
        }
        else if (path != Monitor || request.Method != "GET")
        {
            await Error(context, 404, "application", "invalid-value", "uri keypath not found").ConfigureAwait(false);
            return;
        }

        switch (request.Method)
        {
            case "GET":
                JsonObject? body;
                lock (_gate)
                {
                    body = id is { } one
                        ? _sessions.TryGetValue(one, out var s) ? new JsonObject { [SessionMember] = new JsonArray(s.DeepClone()) } : null
                        : _sessions.Count == 0 ? null : new JsonObject { ["Cisco-IOS-XE-native:monitor"] = new JsonObject { [SessionMember] = new JsonArray([.. _sessions.OrderBy(p => p.Key).Select(p => p.Value.DeepClone())]) } };
                }

                if (body is null)
                {
                    await Error(context, 404, "application", "invalid-value", "uri keypath not found").ConfigureAwait(false);
                    return;
                }

                context.Response.ContentType = "application/yang-data+json";
                await context.Response.WriteAsync(body.ToJsonString()).ConfigureAwait(false);
                return;
            case "PUT":
                await Put(context, id!.Value).ConfigureAwait(false);
                return;
            case "DELETE":
                bool removed;
                lock (_gate)
                {
                    removed = _sessions.Remove(id!.Value);
                }

                context.Response.StatusCode = removed ? 204 : 404;
                return;
            default:
                await Error(context, 405, "protocol", "operation-not-supported", "method").ConfigureAwait(false);
                return;
        }
    }

    private async Task Put(HttpContext context, int id)
    {
        if (context.Request.ContentType != "application/yang-data+json; charset=utf-8" && context.Request.ContentType != "application/yang-data+json")
        {
            await Error(context, 415, "protocol", "invalid-value", "Content-Type must be application/yang-data+json").ConfigureAwait(false);
            return;
        }

        if (RefusePuts is { } refusal)
        {
            await Error(context, 400, "application", "invalid-value", refusal).ConfigureAwait(false);
            return;
        }

        var body = JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync().ConfigureAwait(false));
        if (body?[SessionMember] is not JsonArray { Count: 1 } list || list[0] is not JsonObject session || session["id"]?.GetValue<int>() != id
            || session["type"]?["erspan-source"]?["destination"]?["ip"]?["address"] is null)
        {
            await Error(context, 400, "application", "malformed-message", "expected one session whose id matches the key, with a destination ip").ConfigureAwait(false);
            return;
        }

        bool created;
        lock (_gate)
        {
            created = !_sessions.ContainsKey(id);
            _sessions[id] = (JsonObject)session.DeepClone();
        }

        context.Response.StatusCode = created ? 201 : 204;
    }

    private static async Task Error(HttpContext context, int status, string type, string tag, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/yang-data+json";
        var body = new JsonObject
        {
            ["ietf-restconf:errors"] = new JsonObject
            {
                ["error"] = new JsonArray(new JsonObject { ["error-type"] = type, ["error-tag"] = tag, ["error-message"] = message }),
            },
        };
        await context.Response.WriteAsync(body.ToJsonString()).ConfigureAwait(false);
    }
}
