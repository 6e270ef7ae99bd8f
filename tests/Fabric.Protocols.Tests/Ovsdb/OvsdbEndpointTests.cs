using Xunit;
using Fabric.Protocols.Ovsdb;

namespace Fabric.Protocols.Tests.Ovsdb;

public sealed class OvsdbEndpointTests
{
    [Theory]
    [InlineData("unix:/var/run/openvswitch/db.sock", OvsdbTransport.Unix, "/var/run/openvswitch/db.sock", "", 0)]
    [InlineData("tcp:127.0.0.1:6640", OvsdbTransport.Tcp, "", "127.0.0.1", 6640)]
    [InlineData("tcp:[::1]:6641", OvsdbTransport.Tcp, "", "::1", 6641)]
    [InlineData("ssl:192.0.2.10:6640", OvsdbTransport.Ssl, "", "192.0.2.10", 6640)]
    public void Parses_and_prints_back(string text, OvsdbTransport transport, string path, string host, int port)
    {
        var endpoint = OvsdbEndpoint.Parse(text);
        Assert.Equal(new OvsdbEndpoint(transport, path, host, port), endpoint);
        Assert.Equal(text, endpoint.ToString());
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("unix:relative.sock", "absolute socket path")]
    [InlineData("http://x", "expected \"unix:PATH\"")]
    [InlineData("tcp:127.0.0.1", "expected HOST:PORT")]
    [InlineData("tcp:127.0.0.1:70000", "expected a port number")]
    [InlineData("tcp:[::1:6640", "[IPv6]:PORT")]
    public void Refuses_with_the_reason(string text, string reason)
    {
        Assert.False(OvsdbEndpoint.TryParse(text, out var endpoint, out var error));
        Assert.Null(endpoint);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ssl_without_tls_files_is_refused_with_a_clear_message()
    {
        var ex = await Assert.ThrowsAsync<OvsdbConnectionException>(() => OvsdbEndpoint.Parse("ssl:127.0.0.1:6640").ConnectAsync(CancellationToken.None));
        Assert.Equal("ssl:127.0.0.1:6640: an ssl: endpoint needs a private key, a certificate and a CA certificate", ex.Message);
    }

    [Fact]
    public async Task Missing_unix_socket_is_a_connection_error_naming_the_endpoint()
    {
        var ex = await Assert.ThrowsAsync<OvsdbConnectionException>(() => OvsdbEndpoint.Parse("unix:/nonexistent/fm-db.sock").ConnectAsync(CancellationToken.None));
        Assert.StartsWith("unix:/nonexistent/fm-db.sock: ", ex.Message, StringComparison.Ordinal);
    }
}
