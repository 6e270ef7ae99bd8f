using System.Net;
using System.Net.Http.Headers;
using System.Security.Authentication;
using System.Text;
using System.Text.Json.Nodes;
using Fabric.Actors.Mirrors.Backends;

namespace Fabric.Actors.Mirrors.IosXe;

/// <summary>
/// A RESTCONF client (RFC 8040) for the datastore resource <c>/restconf/data/…</c> with YANG-JSON
/// bodies (RFC 7951, <c>application/yang-data+json</c>) and HTTP basic authentication. A missing
/// resource (404) reads as null; a refusal is a <see cref="RestconfException"/> carrying the
/// status and the <c>ietf-restconf:errors</c> message; a connection, TLS or timeout problem is a
/// <see cref="MirrorBackendUnreachableException"/>. The password is read from its file for each
/// request (re-read when the file changes) and never leaves the Authorization header.
/// </summary>
public sealed class RestconfClient : IDisposable
{
    public const string YangJson = "application/yang-data+json";
    private readonly HttpClient _http;
    private readonly string _user;
    private readonly SecretFile _password;

    public RestconfClient(MirrorApiSettings api, SecretFile password, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(api);
        _http = ApiHttp.Create(api, timeout);
        _user = api.User;
        _password = password;
    }

    /// <summary>GET <c>/restconf/data/{path}</c>; null when the resource does not exist.</summary>
    public async Task<JsonObject?> GetAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        await EnsureSuccess(response, "GET", path, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject ?? throw new RestconfException(response.StatusCode, $"GET {path}: expected a JSON object");
    }

    /// <summary>PUT (create or replace) <c>/restconf/data/{path}</c>.</summary>
    public async Task PutAsync(string path, JsonObject body, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Put, path, body, cancellationToken).ConfigureAwait(false);
        await EnsureSuccess(response, "PUT", path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>DELETE <c>/restconf/data/{path}</c>; a resource already gone is not an error.</summary>
    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Delete, path, null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.NotFound)
        {
            await EnsureSuccess(response, "DELETE", path, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, JsonObject? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, "restconf/data/" + path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(_user + ":" + _password.Read())));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(YangJson));
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(YangJson);
        }

        try
        {
            return await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new MirrorBackendUnreachableException($"RESTCONF {_http.BaseAddress}: {(ex.InnerException as AuthenticationException)?.Message ?? ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MirrorBackendUnreachableException($"RESTCONF {_http.BaseAddress}: no answer within {_http.Timeout.TotalSeconds:0.#} s", ex);
        }
    }

    private static async Task EnsureSuccess(HttpResponseMessage response, string method, string path, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var detail = "";
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            var error = JsonNode.Parse(text)?["ietf-restconf:errors"]?["error"]?[0];
            detail = error is null ? "" : $": {error["error-tag"]?.GetValue<string>()} {error["error-message"]?.GetValue<string>()}".TrimEnd();
        }
        catch (System.Text.Json.JsonException)
        {
            detail = "";
        }

        throw new RestconfException(response.StatusCode, $"RESTCONF {method} {path}: {(int)response.StatusCode} {response.ReasonPhrase}{detail}");
    }
}

/// <summary>The RESTCONF server refused a request.</summary>
public sealed class RestconfException : Exception
{
    public RestconfException()
    {
    }

    public RestconfException(string message)
        : base(message)
    {
    }

    public RestconfException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public RestconfException(HttpStatusCode status, string message)
        : base(message) => Status = status;

    public HttpStatusCode Status { get; }
}
