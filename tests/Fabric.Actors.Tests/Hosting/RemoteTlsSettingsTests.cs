using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using Akka.Event;
using Fabric.Configuration;
using Fabric.Actors.Hosting;
using Xunit;

namespace Fabric.Actors.Tests.Hosting;

/// <summary>
/// fabric.remote.tls and fabric.management.http.tls files (<see cref="TlsCertificateFiles"/>), the
/// peer check of remoting TLS (<see cref="PeerCertificateValidator"/>) and its log filter, and the
/// rule that management off loopback needs a token. Certificates are made in memory
/// (System.Security.Cryptography) and written as PEM/PKCS#12 into a temporary directory.
/// </summary>
public sealed class RemoteTlsSettingsTests : Akka.TestKit.Xunit2.TestKit, IDisposable
{
    private static readonly UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly string _dir = Directory.CreateTempSubdirectory("fpt-tls-").FullName;

    public RemoteTlsSettingsTests()
        : base("akka.loglevel = INFO")
    {
    }

    [Fact]
    public void Pem_certificate_and_key_load_and_a_peer_of_the_same_CA_is_accepted()
    {
        using var ca = Authority("fabric-ca");
        using var node = Issue(ca, "node-a", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var settings = RemoteTlsSettings.Read(Fabric(Tls(WritePem("a", node), WriteKey("a", node), "", WriteCa("ca", ca))))!;

        Assert.True(settings.Certificate.HasPrivateKey);
        Assert.Equal("CN=node-a", settings.Certificate.Subject);
        var validator = new PeerCertificateValidator(settings.Authorities, settings.CaFile);
        using var peer = Issue(ca, "node-b", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        using var peerPublic = X509CertificateLoader.LoadCertificate(peer.RawData);

        Assert.True(validator.Validate(peerPublic, null, "peer", SslPolicyErrors.RemoteCertificateChainErrors, Log));
        Assert.Equal(0, validator.Refused);
    }

    [Fact]
    public void Peers_of_another_CA_self_signed_or_without_a_certificate_are_refused_and_each_certificate_logged_once()
    {
        using var ca = Authority("fabric-ca");
        using var other = Authority("other-ca");
        using var stranger = Issue(other, "stranger", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        using var self = Authority("self-signed");
        var validator = new PeerCertificateValidator([X509CertificateLoader.LoadCertificate(ca.RawData)], "/etc/fabric/ca.crt");

        EventFilter.Warning(contains: "CN=stranger").Expect(1, () =>
        {
            Assert.False(validator.Validate(stranger, null, "[::1]:1", SslPolicyErrors.None, Log));
            Assert.False(validator.Validate(stranger, null, "[::1]:2", SslPolicyErrors.None, Log));
        });
        EventFilter.Warning(contains: "CN=self-signed").Expect(1, () => Assert.False(validator.Validate(self, null, "[::1]:3", SslPolicyErrors.None, Log)));
        EventFilter.Warning(contains: "presented no certificate").Expect(1, () => Assert.False(validator.Validate(null, null, "[::1]:4", SslPolicyErrors.RemoteCertificateNotAvailable, Log)));

        Assert.Equal(4, validator.Refused);
        Assert.True(validator.MentionsRefusedPeer("TLS handshake failed on channel [[::1]:4053->[::1]:2](Id=1)"));
        Assert.True(validator.MentionsRefusedPeer("Rejected incoming connection from [[::1]:4] due to TLS handshake failure."));
        // [::1]:4 was refused, [::1]:4053 (a prefix match) was not.
        Assert.False(validator.MentionsRefusedPeer("TLS handshake failed on channel [[::1]:4053->[::1]:9](Id=2)"));
    }

    [Fact]
    public void Log_filter_drops_DotNetty_handshake_errors_only_for_refused_peers()
    {
        using var ca = Authority("fabric-ca");
        using var self = Authority("self-signed");
        var validator = new PeerCertificateValidator([X509CertificateLoader.LoadCertificate(ca.RawData)], "ca.crt");
        validator.Validate(self, null, "[::ffff:10.0.0.9]:40146", SslPolicyErrors.None, Log);
        var filter = new RefusedPeerLogFilter(validator);
        var refused = "TLS handshake failed on channel [[::ffff:10.0.0.1]:4053->[::ffff:10.0.0.9]:40146](Id=5d)";
        var other = "TLS handshake failed on channel [[::ffff:10.0.0.1]:4053->[::ffff:10.0.0.7]:5000](Id=5e)";
        var evt = new Warning("TcpServerHandler", typeof(RemoteTlsSettingsTests), refused);

        Assert.Equal(LogFilterDecision.Drop, filter.ShouldKeepMessage(evt, refused));
        Assert.Equal(LogFilterDecision.Keep, filter.ShouldKeepMessage(evt, other));
        Assert.Equal(LogFilterDecision.Keep, filter.ShouldKeepMessage(evt, "Association with [::ffff:10.0.0.9]:40146 ended"));
        Assert.Equal(LogFilterDecision.NoDecision, filter.ShouldKeepMessage(evt));
    }

    [Fact]
    public void Key_in_the_certificate_file_and_a_password_protected_pkcs12_load()
    {
        using var ca = Authority("fabric-ca");
        using var node = Issue(ca, "node", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var combined = Write("combined.pem", node.ExportCertificatePem() + "\n" + node.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem(), Private);
        var password = Write("pfx.pass", "a pass word\n", Private);
        var pfx = Path.Combine(_dir, "node.pfx");
        File.WriteAllBytes(pfx, node.Export(X509ContentType.Pkcs12, "a pass word"));
        File.SetUnixFileMode(pfx, Private);
        var caFile = WriteCa("ca", ca);

        Assert.True(RemoteTlsSettings.Read(Fabric(Tls(combined, "", "", caFile)))!.Certificate.HasPrivateKey);
        Assert.True(RemoteTlsSettings.Read(Fabric(Tls(pfx, "", password, caFile)))!.Certificate.HasPrivateKey);
    }

    [Fact]
    public void Disabled_reads_no_file()
    {
        Assert.Null(RemoteTlsSettings.Read(Fabric("fabric.remote.tls { enabled = false, certificate-file = /nonexistent }")));
    }

    [Theory]
    [InlineData("expired", "fabric.remote.tls.certificate-file", "is valid only from")]
    [InlineData("world-readable-key", "fabric.remote.tls.key-file", "is readable or writable by others (mode 644)")]
    [InlineData("pfx-with-key-file", "fabric.remote.tls.key-file", "must be empty")]
    [InlineData("wrong-pfx-password", "fabric.remote.tls.certificate-file", "is neither PEM nor a PKCS#12")]
    [InlineData("missing-certificate", "fabric.remote.tls.certificate-file", "cannot read")]
    [InlineData("no-ca", "fabric.remote.tls.ca-file", "must not be empty")]
    [InlineData("empty-ca", "fabric.remote.tls.ca-file", "holds no PEM certificate")]
    [InlineData("key-of-another-certificate", "fabric.remote.tls.key-file", "cannot load the certificate")]
    public void Unusable_files_are_refused_naming_the_key(string problem, string path, string expected)
    {
        using var ca = Authority("fabric-ca");
        using var node = Issue(ca, "node", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        using var old = Issue(ca, "old", DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(-1));
        using var another = Issue(ca, "another", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var caFile = WriteCa("ca", ca);
        var pfx = Path.Combine(_dir, "node.pfx");
        File.WriteAllBytes(pfx, node.Export(X509ContentType.Pkcs12, "right"));
        File.SetUnixFileMode(pfx, Private);
        var wrongPassword = Write("wrong.pass", "wrong", Private);
        var tls = problem switch
        {
            "expired" => Tls(WritePem("old", old), WriteKey("old", old), "", caFile),
            "world-readable-key" => Tls(WritePem("n", node), Write("n.key", node.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem(), Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead), "", caFile),
            "pfx-with-key-file" => Tls(pfx, WriteKey("n", node), "", caFile),
            "wrong-pfx-password" => Tls(pfx, "", wrongPassword, caFile),
            "missing-certificate" => Tls(Path.Combine(_dir, "missing.crt"), WriteKey("n", node), "", caFile),
            "no-ca" => Tls(WritePem("n", node), WriteKey("n", node), "", ""),
            "empty-ca" => Tls(WritePem("n", node), WriteKey("n", node), "", Write("empty.crt", "", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead)),
            "key-of-another-certificate" => Tls(WritePem("n", node), WriteKey("x", another), "", caFile),
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };

        var e = Assert.Throws<FabricConfigException>(() => RemoteTlsSettings.Read(Fabric(tls)));

        Assert.Equal(path, e.Path);
        Assert.Contains(expected, e.Problem, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("0.0.0.0", false)]
    [InlineData("::", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("sensor.example", false)]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.0.0.2", true)]
    [InlineData("::1", true)]
    [InlineData("localhost", true)]
    public void Management_off_loopback_needs_a_token(string host, bool loopback)
    {
        var config = ConfigurationFactory.ParseString($"fabric.data-dir = \"{_dir}\"\nfabric.management.http.host = \"{host}\"").WithFallback(FabricConfig.Reference);
        var withToken = ConfigurationFactory.ParseString("fabric.management.token = fpt-token").WithFallback(config);

        Assert.Equal(loopback, FabricNodeSettings.IsLoopback(host));
        Assert.Equal("fpt-token", FabricNodeSettings.Read(withToken).ManagementToken);
        var e = Record.Exception(() => FabricNodeSettings.Read(config));
        Assert.Equal(loopback, e is null);
        Assert.Equal(loopback ? null : "fabric.management.token", (e as FabricConfigException)?.Path);
    }

    [Fact]
    public void Token_file_readable_by_others_is_refused()
    {
        var token = Write("token", "fpt-token\n", Private | UnixFileMode.OtherRead);
        var config = ConfigurationFactory.ParseString($"fabric.data-dir = \"{_dir}\"\nfabric.management.token-file = \"{token}\"").WithFallback(FabricConfig.Reference);

        var e = Assert.Throws<FabricConfigException>(() => FabricNodeSettings.Read(config));

        Assert.Equal("fabric.management.token-file", e.Path);
        Assert.Contains("readable or writable by others (mode 604)", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Management_certificate_is_read_when_certificate_file_is_set()
    {
        using var ca = Authority("fabric-ca");
        using var node = Issue(ca, "management", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var config = ConfigurationFactory.ParseString($$"""
            fabric.data-dir = "{{_dir}}"
            fabric.management.http.tls { certificate-file = "{{WritePem("m", node)}}", key-file = "{{WriteKey("m", node)}}" }
            """).WithFallback(FabricConfig.Reference);

        var settings = FabricNodeSettings.Read(config);

        Assert.Equal("https", settings.ManagementScheme);
        Assert.Equal("CN=management", settings.ManagementCertificate!.Subject);
        Assert.Equal("http", FabricNodeSettings.Read(ConfigurationFactory.ParseString($"fabric.data-dir = \"{_dir}\"").WithFallback(FabricConfig.Reference)).ManagementScheme);
    }

    public new void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        base.Dispose();
    }

    private static ConfigReader Fabric(string hocon) =>
        ConfigReader.At(ConfigurationFactory.ParseString(hocon).WithFallback(FabricConfig.Reference), "fabric");

    private static string Tls(string certificate, string key, string password, string ca) =>
        $"fabric.remote.tls {{ enabled = true, certificate-file = \"{certificate}\", key-file = \"{key}\", password-file = \"{password}\", ca-file = \"{ca}\" }}";

    private static X509Certificate2 Authority(string name) => InMemoryCertificates.Authority(name);

    private static X509Certificate2 Issue(X509Certificate2 ca, string name, DateTimeOffset from, DateTimeOffset to) =>
        InMemoryCertificates.Issue(ca, name, from, to);

    private string Write(string name, string text, UnixFileMode mode)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, mode);
        return path;
    }

    private string WritePem(string name, X509Certificate2 certificate) =>
        Write(name + ".crt", certificate.ExportCertificatePem(), Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

    private string WriteKey(string name, X509Certificate2 certificate) =>
        Write(name + ".key", certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem(), Private);

    private string WriteCa(string name, X509Certificate2 ca) => WritePem(name, ca);
}
