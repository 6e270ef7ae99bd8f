using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Authentication;
using System.Text.Json.Nodes;
using Fabric.Actors.Mirrors.Backends;

namespace Fabric.Actors.Mirrors.Proxmox;

/// <summary>Where a VM NIC is: the node the VM runs on, its bridge, VLAN tag, and OVS port name.</summary>
/// <param name="Port"><c>tap&lt;vmid&gt;i&lt;n&gt;</c>, or <c>fwln&lt;vmid&gt;o&lt;n&gt;</c> when the NIC has <c>firewall=1</c>.</param>
public sealed record ProxmoxNic(int VmId, int Net, string Node, string Status, string? Bridge, int? Vlan, bool Firewall, string Port);

/// <summary>
/// A client of the Proxmox VE API (<c>/api2/json</c>, API token header
/// <c>Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET</c>, TLS verified against the configured
/// CA or pinned fingerprint). Reads where VMs run (<c>GET /cluster/resources?type=vm</c>) and
/// their NICs (<c>GET /nodes/{node}/qemu/{vmid}/config</c>). The secret stays in the header.
/// </summary>
public sealed class ProxmoxClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _tokenId;
    private readonly SecretFile _secret;

    public ProxmoxClient(MirrorApiSettings api, SecretFile secret, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(api);
        _http = ApiHttp.Create(api with { Url = new Uri(api.Url, "/api2/json/") }, timeout);
        _tokenId = api.User;
        _secret = secret;
    }

    /// <summary>vmid → (node, status) of every QEMU VM of the cluster.</summary>
    public async Task<Dictionary<int, (string Node, string Status)>> VmsAsync(CancellationToken cancellationToken)
    {
        var data = await GetAsync("cluster/resources?type=vm", cancellationToken).ConfigureAwait(false) as JsonArray ?? [];
        var result = new Dictionary<int, (string, string)>();
        foreach (var vm in data)
        {
            if (vm?["type"]?.GetValue<string>() == "qemu" && vm["vmid"] is JsonValue id && vm["node"] is JsonValue node)
            {
                result[id.GetValue<int>()] = (node.GetValue<string>(), vm["status"]?.GetValue<string>() ?? "unknown");
            }
        }

        return result;
    }

    /// <summary>The configuration of VM <paramref name="vmid"/> on <paramref name="node"/> (<c>net0</c>… as PVE writes them).</summary>
    public async Task<JsonObject> VmConfigAsync(string node, int vmid, CancellationToken cancellationToken) =>
        await GetAsync(string.Create(CultureInfo.InvariantCulture, $"nodes/{Uri.EscapeDataString(node)}/qemu/{vmid}/config"), cancellationToken).ConfigureAwait(false) as JsonObject
        ?? throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"PVE API: no configuration for VM {vmid} on {node}"));

    /// <summary>
    /// Parses a <c>netN</c> value (<c>virtio=BC:24:11:00:00:01,bridge=vmbr1,firewall=1,tag=100</c>)
    /// into bridge, VLAN tag and whether the firewall is on.
    /// </summary>
    public static (string? Bridge, int? Vlan, bool Firewall) ParseNet(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        string? bridge = null;
        int? vlan = null;
        var firewall = false;
        foreach (var part in value.Split(','))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                continue;
            }

            var (key, v) = (part[..eq].Trim(), part[(eq + 1)..].Trim());
            switch (key)
            {
                case "bridge":
                    bridge = v;
                    break;
                case "tag" when int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var t):
                    vlan = t;
                    break;
                case "firewall":
                    firewall = v == "1";
                    break;
            }
        }

        return (bridge, vlan, firewall);
    }

    public void Dispose() => _http.Dispose();

    private async Task<JsonNode?> GetAsync(string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Authorization", "PVEAPIToken=" + _tokenId + "=" + _secret.Read());
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new MirrorBackendUnreachableException($"PVE API {_http.BaseAddress}: {(ex.InnerException as AuthenticationException)?.Message ?? ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MirrorBackendUnreachableException($"PVE API {_http.BaseAddress}: no answer within {_http.Timeout.TotalSeconds:0.#} s", ex);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new MirrorBackendUnreachableException($"PVE API GET {path}: {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return JsonNode.Parse(text)?["data"];
        }
    }
}
