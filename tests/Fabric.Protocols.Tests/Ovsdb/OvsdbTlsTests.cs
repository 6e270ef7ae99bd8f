using Fabric.Protocols.Ovsdb;
using Xunit;

namespace Fabric.Protocols.Tests.Ovsdb;

/// <summary>
/// ssl: against a real ovsdb-server listening with <c>--remote=pssl:PORT:127.0.0.1</c>, with a CA,
/// server and client certificates made by openssl in a temp directory (removed afterwards).
/// </summary>
public sealed class OvsdbTlsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fm-tls-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly CapturedProcess _server;
    private readonly int _port;

    public OvsdbTlsTests()
    {
        Directory.CreateDirectory(_dir);
        foreach (var ca in new[] { "ca", "other-ca" })
        {
            OvsdbServerFixture.Run("openssl", $"req -x509 -newkey rsa:2048 -nodes -keyout {_dir}/{ca}.key -out {_dir}/{ca}.pem -days 2 -subj /CN=fm-{ca}");
        }

        foreach (var (name, ca) in new[] { ("server", "ca"), ("client", "ca") })
        {
            OvsdbServerFixture.Run("openssl", $"req -newkey rsa:2048 -nodes -keyout {_dir}/{name}.key -out {_dir}/{name}.csr -subj /CN=fm-{name}");
            OvsdbServerFixture.Run("openssl", $"x509 -req -in {_dir}/{name}.csr -CA {_dir}/{ca}.pem -CAkey {_dir}/{ca}.key -CAcreateserial -out {_dir}/{name}.pem -days 2");
        }

        OvsdbServerFixture.Run("ovsdb-tool", $"create {_dir}/conf.db {OvsLauncher.Schema}");
        _port = Ports.Free();

        _server = OvsLauncher.StartOvsdbServer(
            _dir,
            $"{_dir}/conf.db",
            [$"--remote=pssl:{_port}:127.0.0.1", $"--private-key={_dir}/server.key", $"--certificate={_dir}/server.pem", $"--ca-cert={_dir}/ca.pem"],
            () => OvsLauncher.AcceptsTcp(_port),
            "ovsdb-server pssl port");
    }

    private OvsdbEndpoint Endpoint(string client, string ca) =>
        OvsdbEndpoint.Parse($"ssl:127.0.0.1:{_port}") with { Tls = new OvsdbTlsFiles($"{_dir}/{client}.key", $"{_dir}/{client}.pem", $"{_dir}/{ca}.pem") };

    [Fact]
    public async Task Ssl_endpoint_speaks_to_ovsdb_server_with_client_certificates()
    {
        await using var client = await OvsdbClient.ConnectAsync(Endpoint("client", "ca"));
        Assert.Contains("Open_vSwitch", await client.ListDatabasesAsync());
    }

    [Fact]
    public async Task A_server_certificate_from_another_ca_is_refused()
    {
        var ex = await Assert.ThrowsAsync<OvsdbConnectionException>(() => OvsdbClient.ConnectAsync(Endpoint("client", "other-ca")));
        Assert.StartsWith($"ssl:127.0.0.1:{_port}: TLS handshake failed", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_tls_files_are_named()
    {
        var endpoint = OvsdbEndpoint.Parse($"ssl:127.0.0.1:{_port}") with { Tls = new OvsdbTlsFiles($"{_dir}/none.key", $"{_dir}/none.pem", $"{_dir}/ca.pem") };
        var ex = await Assert.ThrowsAsync<OvsdbConnectionException>(() => OvsdbClient.ConnectAsync(endpoint));
        Assert.StartsWith($"ssl:127.0.0.1:{_port}: cannot read the TLS files", ex.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _server.Dispose(); // kill -9 by pid, then waits for the exit
        Directory.Delete(_dir, recursive: true);
    }
}
