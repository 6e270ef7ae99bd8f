using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Akka.Actor;
using Fabric.Actors.Hosting;
using Fabric.Node.Management;
using Fabric.Node.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Fabric.Node.Tests.Management;

/// <summary>
/// Issue 8 scenario 7, management HTTP: a real fabric-node (token required, a supervisor with
/// one declared mirror) fed oversized bodies, malformed JSON, wrong content types, path tricks,
/// wrong methods and missing or wrong tokens on every mutating route. Every refusal is a 4xx with
/// a one-line JSON error naming the problem, logged once (no stack trace); the node keeps running
/// and its state (mirrors, members, start count) is the same afterwards.
/// </summary>
[Collection(NodeProcessCollection.Name)]
public sealed partial class HostileManagementTests(HostileNodeFixture fixture) : IClassFixture<HostileNodeFixture>
{
    private static readonly TimeSpan LogWait = TimeSpan.FromSeconds(10);
    private readonly NodeProcess _node = fixture.Node;

    /// <summary>Every route the node maps (found the way fabric-node finds them), with its methods.</summary>
    public static IReadOnlyList<(string Method, string Pattern)> DiscoveredRoutes()
    {
        var builder = WebApplication.CreateSlimBuilder();
        // Handlers take these from DI; they are only looked up here, never resolved.
        foreach (var type in new[] { typeof(ActorSystem), typeof(FabricNodeSettings), typeof(FabricStartupInfo), typeof(NodeExit), typeof(NodeReadiness), typeof(ManagementToken) })
        {
            builder.Services.AddSingleton(type, _ => throw new InvalidOperationException("not resolved in this test"));
        }

        var app = builder.Build();
        ManagementRouteDiscovery.MapAll(app);
        return [.. ((IEndpointRouteBuilder)app).DataSources
            .SelectMany(d => d.Endpoints)
            .OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(m => (m, "/" + e.RoutePattern.RawText!.TrimStart('/'))))];
    }

    [Fact]
    public async Task Every_mutating_route_answers_401_without_a_token_or_with_a_wrong_one_and_nothing_changes()
    {
        var mutating = DiscoveredRoutes().Where(r => r.Method is not ("GET" or "HEAD" or "OPTIONS")).ToList();
        // The routes known today; a new one is covered by the loop below without editing this test.
        foreach (var known in new[] { "POST /mirrors", "DELETE /mirrors/{name}", "POST /mirrors/{name}/repair", "POST /pipelines/{name}/stop",
                     "POST /pipelines/{name}/start", "POST /cluster/leave", "POST /cluster/down" })
        {
            Assert.Contains(known, mutating.Select(r => $"{r.Method} {r.Pattern}"));
        }

        Assert.DoesNotContain(mutating, r => r.Method == "*");
        var before = await StateAsync();
        var logged = RefusalLines();
        var sent = 0;
        foreach (var (method, pattern) in mutating)
        {
            // The seeded mirror's name, so that an unguarded route would really change something.
            var path = RouteParameter().Replace(pattern, HostileNodeFixture.MirrorName);
            var body = path.StartsWith("/cluster/", StringComparison.Ordinal) ? $"{{\"address\":\"{_node.Address}\"}}" : HostileNodeFixture.MirrorJson;
            foreach (var authorization in new string?[] { null, "Bearer wrong-token", "Basic " + HostileNodeFixture.Token, "Bearer " + HostileNodeFixture.Token + "x", "Bearer" })
            {
                using var http = _node.Http();
                using var request = new HttpRequestMessage(new HttpMethod(method), path.TrimStart('/')) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                if (authorization is not null)
                {
                    request.Headers.TryAddWithoutValidation("Authorization", authorization);
                }

                using var response = await http.SendAsync(request);
                await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "missing or wrong bearer token", $"{method} {path} with {authorization ?? "no token"}");
                sent++;
            }
        }

        Assert.Equal(before, await StateAsync());
        await AssertLoggedOnceEachAsync(logged, sent);
    }

    [Fact]
    public async Task Oversized_bodies_are_refused_with_413_declared_or_chunked()
    {
        var before = await StateAsync();
        var logged = RefusalLines();
        var big = BigMirrorJson(2 * 1024 * 1024);

        var declared = await RawAsync(
            $"POST /mirrors HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {HostileNodeFixture.Token}\r\nContent-Type: application/json\r\nContent-Length: {big.Length}\r\nConnection: close\r\n\r\n",
            sendBody: null);
        AssertRawError(declared, 413, $"request body of {big.Length} bytes exceeds the {ManagementGuard.MaxRequestBodyBytes} byte limit");

        using (var http = Authorized())
        {
            using var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
            chunked.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, "mirrors") { Content = chunked };
            request.Headers.TransferEncodingChunked = true;
            using var response = await http.SendAsync(request);
            await AssertErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, $"exceeds the {ManagementGuard.MaxRequestBodyBytes} byte limit", "chunked 2 MiB");
        }

        Assert.Equal(before, await StateAsync());
        await AssertLoggedOnceEachAsync(logged, 2);
    }

    [Theory]
    [InlineData("{\"name\":", "body: not JSON")]
    [InlineData("", "body: not JSON")]
    [InlineData("[1,2,3]", "body: expected a JSON object")]
    [InlineData("{\"name\":5,\"site\":\"lab\",\"sources\":[\"veth0\"],\"output\":\"veth1\"}", "name: expected a string")]
    [InlineData("{\"name\":\"x\",\"site\":\"lab\",\"sources\":\"veth0\",\"output\":\"veth1\"}", "sources: expected a list of sources")]
    [InlineData("{\"name\":\"x\",\"site\":\"lab\",\"sources\":[\"veth0\"],\"output\":\"veth1\",\"evil\":{\"$type\":\"System.IO.FileInfo\"}}", "evil: unknown field")]
    [InlineData("{\"name\":\"x\",\"site\":\"lab\",\"sources\":[\"veth0\"],\"output\":\"veth1\",\"snaplen\":1e999}", "snaplen: expected an integer")]
    [InlineData("\u00ff\u00fe{", "body: not JSON")]
    public async Task Malformed_or_mistyped_JSON_is_a_400_naming_the_problem(string body, string problem)
    {
        var before = await StateAsync();
        using var http = Authorized();

        using var response = await http.PostAsync("mirrors", new StringContent(body, Encoding.UTF8, "application/json"));

        await AssertErrorAsync(response, HttpStatusCode.BadRequest, problem, body);
        Assert.Equal(before, await StateAsync());
    }

    [Fact]
    public async Task Deeply_nested_JSON_is_a_400_not_a_stack_overflow()
    {
        var before = await StateAsync();
        var logged = RefusalLines();
        using var http = Authorized();
        var nested = "{\"name\":" + new string('[', 100_000) + new string(']', 100_000) + "}";

        using var mirror = await http.PostAsync("mirrors", new StringContent(nested, Encoding.UTF8, "application/json"));
        using var leave = await http.PostAsync("cluster/leave", new StringContent(nested, Encoding.UTF8, "application/json"));

        await AssertErrorAsync(mirror, HttpStatusCode.BadRequest, "maximum configured depth of 64", "nested /mirrors");
        await AssertErrorAsync(leave, HttpStatusCode.BadRequest, "request body must be {\"address\"", "nested /cluster/leave");
        Assert.Equal(before, await StateAsync());
        await AssertLoggedOnceEachAsync(logged, 2);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("application/xml")]
    [InlineData("application/jsonp")]
    [InlineData("not a media type")]
    [InlineData(null)]
    public async Task A_body_that_is_not_JSON_by_content_type_is_a_415(string? contentType)
    {
        var before = await StateAsync();
        var header = contentType is null ? "" : $"Content-Type: {contentType}\r\n";
        var body = HostileNodeFixture.MirrorJson.Replace(HostileNodeFixture.MirrorName, "fph-415", StringComparison.Ordinal);

        var answer = await RawAsync(
            $"POST /mirrors HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {HostileNodeFixture.Token}\r\n{header}Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n",
            body);

        AssertRawError(answer, 415, "is not accepted: management requests send application/json");
        Assert.Equal(before, await StateAsync());
    }

    [Theory]
    [InlineData("GET /node/../cluster/../nope HTTP/1.1", 404, "no management route GET /nope")]
    [InlineData("GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1", 404, "no management route GET /etc/passwd")]
    // An encoded slash stays encoded in the route value: the name is the literal text, never a path.
    [InlineData("GET /mirrors/..%2F..%2Fetc%2Fpasswd HTTP/1.1", 404, "no mirror session ..%2F..%2Fetc%2Fpasswd")]
    [InlineData("GET /mirrors/%2e%2e%2f%2e%2e%2fetc%2fpasswd/history HTTP/1.1", 404, "no mirror session ..%2f..%2fetc%2fpasswd")]
    [InlineData("POST /mirrors/../cluster/leave HTTP/1.1", 401, "missing or wrong bearer token")]
    [InlineData("POST /pipelines/%2e%2e/cluster/down HTTP/1.1", 401, "missing or wrong bearer token")]
    [InlineData("GET /no/such/route HTTP/1.1", 404, "no management route GET /no/such/route")]
    [InlineData("GET /mirrors/a%0Ab HTTP/1.1", 404, "no mirror session a b")]
    [InlineData("GET /mirrors/x?limit=-1 HTTP/1.1", 404, "no mirror session x")]
    [InlineData("GET /mirrors/fph-seed/history?limit=-1 HTTP/1.1", 400, "limit: expected a positive integer")]
    [InlineData("PUT /mirrors HTTP/1.1", 405, "method not allowed: PUT /mirrors (allowed: GET, POST)")]
    [InlineData("PATCH /cluster/leave HTTP/1.1", 405, "method not allowed: PATCH /cluster/leave (allowed: POST)")]
    [InlineData("DELETE /node HTTP/1.1", 405, "method not allowed: DELETE /node (allowed: GET)")]
    [InlineData("GET /cluster/down HTTP/1.1", 405, "method not allowed: GET /cluster/down (allowed: POST)")]
    [InlineData("TRACE /mirrors HTTP/1.1", 405, "method not allowed: TRACE /mirrors")]
    public async Task Path_tricks_unknown_routes_and_wrong_methods_get_a_JSON_4xx(string requestLine, int status, string problem)
    {
        var before = await StateAsync();
        var logged = RefusalLines();

        var answer = await RawAsync($"{requestLine}\r\nHost: x\r\nConnection: close\r\n\r\n", sendBody: null);

        AssertRawError(answer, status, problem);
        Assert.Equal(before, await StateAsync());
        await AssertLoggedOnceEachAsync(logged, 1);
    }

    [Fact]
    public async Task Names_with_path_characters_change_nothing_even_with_the_token()
    {
        var before = await StateAsync();
        using var http = Authorized();

        using var delete = await http.DeleteAsync("mirrors/..%2Ffph-seed");
        using var repair = await http.PostAsync("mirrors/fph-seed%2F..%2F..%2Fx/repair", new StringContent("{}", Encoding.UTF8, "application/json"));
        using var stop = await http.PostAsync("pipelines/..%2F..%2Fetc/stop", null);

        Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        Assert.False((await delete.Content.ReadFromJsonElementAsync()).GetProperty("changed").GetBoolean());
        await AssertErrorAsync(repair, HttpStatusCode.NotFound, "no mirror session fph-seed%2F..%2F..%2Fx", "repair");
        await AssertErrorAsync(stop, HttpStatusCode.NotFound, "this node runs no pipelines", "stop");
        Assert.Equal(before, await StateAsync());
    }

    [Fact]
    public async Task Very_long_paths_are_refused_with_414()
    {
        var before = await StateAsync();
        var logged = RefusalLines();

        var longPath = "/mirrors/" + new string('a', 4000);
        var answer = await RawAsync($"GET {longPath} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", sendBody: null);
        AssertRawError(answer, 414, $"path of {longPath.Length} characters exceeds the {ManagementGuard.MaxPathLength} character limit");

        // Past Kestrel's own 8 KiB request line: refused by Kestrel itself (no JSON body, nothing logged).
        var huge = await RawAsync($"GET /mirrors/{new string('b', 20_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", sendBody: null);
        Assert.Equal(414, huge.Status);

        Assert.Equal(before, await StateAsync());
        await AssertLoggedOnceEachAsync(logged, 1);
    }

    [Fact]
    public async Task After_all_of_it_the_node_is_ready_and_logged_no_stack_trace()
    {
        // Runs in any order with the others: at the least it sees the fixture's own start-up.
        using var http = Authorized();
        using var garbage = await http.PostAsync("mirrors", new StringContent("{{{{", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);

        await _node.WaitReadyAsync(TimeSpan.FromSeconds(10));
        Assert.False(_node.HasExited);
        var output = _node.Output;
        Assert.DoesNotMatch(StackFrame(), output);
        Assert.DoesNotContain("fail:", output, StringComparison.Ordinal);
        Assert.DoesNotContain("crit:", output, StringComparison.Ordinal);
        Assert.DoesNotContain(HostileNodeFixture.Token, output, StringComparison.Ordinal);
    }

    private HttpClient Authorized()
    {
        var http = _node.Http();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", HostileNodeFixture.Token);
        return http;
    }

    /// <summary>What must not change: the mirror sessions' definitions, the members, the start count.</summary>
    private async Task<string> StateAsync()
    {
        var mirrors = await _node.GetJsonAsync("mirrors");
        var members = await _node.GetJsonAsync("cluster/members");
        var node = await _node.GetJsonAsync("node");
        var sessions = mirrors.GetProperty("sessions").EnumerateArray().Select(s =>
            $"{s.GetProperty("name")}|{s.GetProperty("site")}|{s.GetProperty("sources")}|{s.GetProperty("output")}|{s.GetProperty("enabled")}");
        var up = members.GetProperty("members").EnumerateArray().Select(m => $"{m.GetProperty("address")}={m.GetProperty("status")}");
        return $"mirrors[{string.Join(",", sessions)}] members[{string.Join(",", up)}] starts={node.GetProperty("starts")}";
    }

    private int RefusalLines() => CountRefusals(_node.Output);

    private static int CountRefusals(string output) => output.Split('\n').Count(l => l.Contains("Management refused ", StringComparison.Ordinal));

    private async Task AssertLoggedOnceEachAsync(int before, int requests)
    {
        var deadline = DateTime.UtcNow + LogWait;
        while (CountRefusals(_node.Output) < before + requests && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(before + requests, CountRefusals(_node.Output));
        Assert.DoesNotMatch(StackFrame(), _node.Output);
    }

    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string problem, string what)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{what}: expected {(int)status}, got {(int)response.StatusCode} {text}");
        AssertOneLineError(text, problem, what);
    }

    private static void AssertRawError((int Status, string Body) answer, int status, string problem)
    {
        Assert.True(answer.Status == status, $"expected {status}, got {answer.Status} {answer.Body}");
        AssertOneLineError(answer.Body, problem, $"{status}");
    }

    private static void AssertOneLineError(string body, string problem, string what)
    {
        using var doc = JsonDocument.Parse(body);
        var error = doc.RootElement.GetProperty("error").GetString()!;
        Assert.True(error.Contains(problem, StringComparison.Ordinal), $"{what}: error \"{error}\" does not name \"{problem}\"");
        Assert.DoesNotContain('\n', error);
        Assert.Single(doc.RootElement.EnumerateObject());
    }

    /// <summary>
    /// One request on a raw socket (HttpClient would normalise "/../" and re-encode the path), read
    /// to the end (Connection: close). The body is sent only when given.
    /// </summary>
    private async Task<(int Status, string Body)> RawAsync(string head, string? sendBody)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, _node.ManagementPort);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(head + (sendBody ?? "")));
        using var read = new MemoryStream();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await stream.CopyToAsync(read, cts.Token);
        }
        catch (IOException)
        {
            // The server may reset after answering a request whose body it did not read.
        }

        var text = Encoding.UTF8.GetString(read.ToArray());
        var statusLine = text.Split("\r\n", 2)[0];
        var parts = statusLine.Split(' ');
        Assert.True(parts.Length >= 2 && parts[0].StartsWith("HTTP/1.1", StringComparison.Ordinal), $"not an HTTP response: \"{statusLine}\"");
        var separator = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var headers = text[..separator];
        var body = text[(separator + 4)..];
        if (headers.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = Dechunk(body);
        }

        return (int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), body);
    }

    private static string Dechunk(string chunked)
    {
        var result = new StringBuilder();
        var at = 0;
        while (true)
        {
            var lineEnd = chunked.IndexOf("\r\n", at, StringComparison.Ordinal);
            var size = Convert.ToInt32(chunked[at..lineEnd], 16);
            if (size == 0)
            {
                return result.ToString();
            }

            result.Append(chunked, lineEnd + 2, size);
            at = lineEnd + 2 + size + 2;
        }
    }

    private static string BigMirrorJson(int size)
    {
        var builder = new StringBuilder(size + 200);
        builder.Append("{\"name\":\"fph-big\",\"site\":\"lab\",\"output\":\"veth1\",\"sources\":[");
        while (builder.Length < size)
        {
            builder.Append("\"veth-aaaaaaaaaaaaaaaaaaaaaaaa\",");
        }

        builder.Append("\"veth0\"]}");
        return builder.ToString();
    }

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex RouteParameter();

    [GeneratedRegex(@"(?m)^\s+at \S+\(")]
    private static partial Regex StackFrame();
}

/// <summary>One fabric-node for <see cref="HostileManagementTests"/>: token required, supervisor, one declared tc mirror.</summary>
public sealed class HostileNodeFixture : IAsyncLifetime
{
    public const string Token = "fph-token-3b91c7";
    public const string MirrorName = "fph-seed";
    public const string MirrorJson = """{"name":"fph-seed","site":"lab","backend":"tc","sources":["fph-other"],"output":"fph-out"}""";

    public NodeProcess Node { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Node = new NodeProcess("""
            akka.cluster.roles = [supervisor]
            fabric.sites = [ { name = lab, backend = tc } ]
            fabric.mirrors = [ { name = fph-seed, site = lab, sources = ["fph-src"], output = "fph-out" } ]
            """);
        var tokenFile = Path.Combine(Node.Directory, "token");
        File.WriteAllText(tokenFile, Token + "\n");
        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.AppendAllText(Node.ConfigFile, $"\nfabric.management.token-file = \"{tokenFile}\"\n");
        Node.Start();
        await Node.WaitReadyAsync(TimeSpan.FromSeconds(60));
        await Node.WaitUntilAsync(async n => (await n.GetJsonAsync("mirrors")).GetProperty("sessions").GetArrayLength() == 1, TimeSpan.FromSeconds(60), "the declared mirror");
    }

    public Task DisposeAsync()
    {
        Node.Dispose();
        return Task.CompletedTask;
    }
}

internal static class HttpContentJson
{
    public static async Task<JsonElement> ReadFromJsonElementAsync(this HttpContent content)
    {
        using var doc = JsonDocument.Parse(await content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }
}
