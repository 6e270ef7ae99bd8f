using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Fabric.Actors.Tests.Mirrors.Fakes;

/// <summary>
/// An in-process FAKE of the Proxmox VE API (<c>/api2/json</c>, JSON <c>{"data": …}</c> answers,
/// API token authentication), only what Fabric reads: <c>GET /cluster/resources?type=vm</c> and
/// <c>GET /nodes/{node}/qemu/{vmid}/config</c> (500 "does not exist" when the VM is not on that
/// node, as PVE answers). Tests place and migrate VMs. NOT Proxmox: name tests using it
/// ...AgainstFakeProxmoxApi...
/// </summary>
public sealed class FakeProxmoxApi : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly string _authorization;
    private readonly Dictionary<int, (string Node, Dictionary<string, string> Config)> _vms = [];
    private FakeHttpsServer? _server;

    private FakeProxmoxApi(string tokenId, string secret) => _authorization = $"PVEAPIToken={tokenId}={secret}";

    public FakeHttpsServer Server => _server!;

    /// <summary>Requests answered 401 (wrong or missing token).</summary>
    public int Unauthorized { get; private set; }

    public static async Task<FakeProxmoxApi> StartAsync(string tokenId, string secret)
    {
        var api = new FakeProxmoxApi(tokenId, secret);
        api._server = await FakeHttpsServer.StartAsync(api.Handle).ConfigureAwait(false);
        return api;
    }

    /// <summary>Defines VM <paramref name="vmid"/> on <paramref name="node"/> with NIC lines (<c>net1 = "virtio=…,bridge=vmbr1"</c>).</summary>
    public void SetVm(int vmid, string node, params (string Key, string Value)[] config)
    {
        lock (_gate)
        {
            _vms[vmid] = (node, config.ToDictionary(c => c.Key, c => c.Value));
        }
    }

    /// <summary>Live migration: the VM now runs on <paramref name="node"/>, with <paramref name="config"/> (unchanged when null).</summary>
    public void Migrate(int vmid, string node, params (string Key, string Value)[] config)
    {
        lock (_gate)
        {
            _vms[vmid] = (node, config.Length == 0 ? _vms[vmid].Config : config.ToDictionary(c => c.Key, c => c.Value));
        }
    }

    public ValueTask DisposeAsync() => _server?.DisposeAsync() ?? ValueTask.CompletedTask;

    private async Task Handle(HttpContext context)
    {
        context.Response.ContentType = "application/json;charset=UTF-8";
        if (context.Request.Headers.Authorization.ToString() != _authorization)
        {
            lock (_gate)
            {
                Unauthorized++;
            }

            context.Response.StatusCode = 401;
            await context.Response.WriteAsync("{\"data\":null}").ConfigureAwait(false);
            return;
        }

        var path = context.Request.Path.Value ?? "";
        JsonNode? data = null;
        var status = 200;
        var error = "";
        lock (_gate)
        {
            var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (path == "/api2/json/cluster/resources" && context.Request.Query["type"] == "vm")
            {
                data = new JsonArray([.. _vms.OrderBy(v => v.Key).Select(v => (JsonNode)new JsonObject
                {
                    ["id"] = string.Create(CultureInfo.InvariantCulture, $"qemu/{v.Key}"),
                    ["type"] = "qemu",
                    ["vmid"] = v.Key,
                    ["node"] = v.Value.Node,
                    ["status"] = "running",
                    ["name"] = string.Create(CultureInfo.InvariantCulture, $"vm{v.Key}"),
                })]);
            }
            else if (parts is ["api2", "json", "nodes", var node, "qemu", var id, "config"] && int.TryParse(id, CultureInfo.InvariantCulture, out var vmid))
            {
                if (_vms.TryGetValue(vmid, out var vm) && vm.Node == node)
                {
                    var config = new JsonObject { ["digest"] = "0123456789abcdef", ["name"] = string.Create(CultureInfo.InvariantCulture, $"vm{vmid}") };
                    foreach (var (k, v) in vm.Config)
                    {
                        config[k] = v;
                    }

                    data = config;
                }
                else
                {
                    status = 500;
                    error = string.Create(CultureInfo.InvariantCulture, $"Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist");
                }
            }
            else
            {
                status = 501;
                error = "Method '" + path + "' not implemented";
            }
        }

        context.Response.StatusCode = status;
        await context.Response.WriteAsync(status == 200 ? new JsonObject { ["data"] = data }.ToJsonString() : new JsonObject { ["data"] = null, ["message"] = error }.ToJsonString()).ConfigureAwait(false);
    }
}
