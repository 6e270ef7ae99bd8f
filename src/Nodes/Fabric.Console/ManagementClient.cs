using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Authentication;
using Fabric.Console.Commands;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fabric.Console;

/// <summary>
/// The console's only way to a node: its management HTTP API. Every failure becomes a
/// <see cref="ConsoleException"/> with one clear line (what, where, why) and an exit code.
/// </summary>
internal sealed class ManagementClient : IDisposable
{
    private readonly HttpClient _http;

    private readonly CaTrust? _trust;

    public ManagementClient(Uri node, string? token, TimeSpan timeout, CaTrust? trust = null)
    {
        Node = node;
        _trust = trust;
        var handler = new HttpClientHandler();
        if (trust is not null)
        {
            handler.ServerCertificateCustomValidationCallback = (_, certificate, chain, errors) => trust.Validate(certificate, chain, errors);
        }

        _http = new HttpClient(handler, disposeHandler: true) { BaseAddress = node, Timeout = timeout };
        if (!string.IsNullOrEmpty(token))
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public Uri Node { get; }

    public Task<JsonElement> GetAsync(string path, CancellationToken ct) =>
        SendAsync(HttpMethod.Get, path, body: null, ct);

    public Task<JsonElement> PostAsync(string path, JsonObject? body, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, path, body, ct);

    public Task<JsonElement> DeleteAsync(string path, CancellationToken ct) =>
        SendAsync(HttpMethod.Delete, path, body: null, ct);

    public void Dispose() => _http.Dispose();

    private async Task<JsonElement> SendAsync(HttpMethod method, string path, JsonObject? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ConsoleException($"cannot reach node {Node}: {Reason(e)}", ExitCodes.Failed, e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new ConsoleException(
                $"cannot reach node {Node}: no answer within {_http.Timeout.TotalSeconds:0} s", ExitCodes.Failed, e);
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new ConsoleException(
                    $"node {Node} refused {method} /{path.TrimStart('/')}: {(int)response.StatusCode} {ErrorText(text, response)}",
                    ExitCodeFor(response.StatusCode));
            }

            if (string.IsNullOrWhiteSpace(text))
            {
                return default;
            }

            try
            {
                using var doc = JsonDocument.Parse(text);
                return doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new ConsoleException(
                    $"node {Node} answered /{path.TrimStart('/')} with something that is not JSON ({e.Message})",
                    ExitCodes.Failed, e);
            }
        }
    }

    private static int ExitCodeFor(HttpStatusCode status) => status switch
    {
        HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => ExitCodes.Refused,
        HttpStatusCode.NotFound => ExitCodes.NotFound,
        HttpStatusCode.BadRequest => ExitCodes.Usage,
        _ => ExitCodes.Failed,
    };

    private static string ErrorText(string body, HttpResponseMessage response)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object &&
                doc.RootElement.TryGetProperty("error", out var error) &&
                error.ValueKind == JsonValueKind.String)
            {
                return error.GetString()!;
            }
        }
        catch (JsonException)
        {
            // Not JSON: fall through to the reason phrase.
        }

        return response.ReasonPhrase ?? "error";
    }

    private string Reason(HttpRequestException e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is AuthenticationException)
            {
                return _trust is null
                    ? "its TLS certificate is not trusted by the system store; give the CA that signed it with --ca-file (or FABRIC_CA_FILE)"
                    : $"its TLS certificate does not match the host name or does not chain to --ca-file {_trust.File}";
            }

            if (inner is SocketException socket)
            {
                return socket.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => "connection refused",
                    SocketError.HostNotFound or SocketError.NoData => "host not found",
                    SocketError.TimedOut => "timed out",
                    SocketError.NetworkUnreachable or SocketError.HostUnreachable => "unreachable",
                    _ => socket.Message.ToLowerInvariant(),
                };
            }
        }

        return e.Message.TrimEnd('.').ToLowerInvariant();
    }
}
