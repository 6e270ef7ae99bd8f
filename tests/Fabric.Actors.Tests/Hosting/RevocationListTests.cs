using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using Fabric.Configuration;
using Fabric.Actors.Hosting;
using Xunit;
using static Fabric.Actors.Tests.Hosting.InMemoryCertificates;

namespace Fabric.Actors.Tests.Hosting;

/// <summary>
/// <c>fabric.remote.tls.crl-file</c>: CRLs made with .NET's CertificateRevocationListBuilder (as `openssl ca
/// -gencrl` makes them: RFC 5280 v2 CRLs), parsed and signature-checked by <see cref="RevocationList"/>, applied
/// by <see cref="PeerCertificateValidator"/> and read again when the file changes.
/// </summary>
public sealed class RevocationListTests : Akka.TestKit.Xunit2.TestKit, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fpt-crl-").FullName;

    public RevocationListTests()
        : base("akka.loglevel = INFO")
    {
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_crl_signed_by_its_ca_revokes_exactly_the_listed_certificates(bool rsa)
    {
        using var ca = Authority("fabric-ca", rsa);
        using var revoked = Issue(ca, "node-r");
        using var kept = Issue(ca, "node-k");

        var list = RevocationList.Parse(Crl(ca, revoked), [ca]);

        Assert.Equal(("CN=fabric-ca", 1), (list.Issuer, list.Count));
        Assert.True(list.Revokes(revoked));
        Assert.False(list.Revokes(kept));
        Assert.True(list.NextUpdate > DateTimeOffset.UtcNow);
    }

    [Fact]
    public void A_crl_of_a_ca_not_in_ca_file_or_with_a_forged_signature_is_refused()
    {
        using var ca = Authority("fabric-ca");
        using var other = Authority("other-ca");
        using var impostor = Authority("fabric-ca"); // same name, another key
        using var node = Issue(ca, "node");

        var unknown = Assert.Throws<CryptographicException>(() => RevocationList.Parse(Crl(other), [ca]));
        Assert.Contains("issued by \"CN=other-ca\", which is not a CA of ca-file", unknown.Message, StringComparison.Ordinal);
        var forged = Assert.Throws<CryptographicException>(() => RevocationList.Parse(Crl(impostor, node), [ca]));
        Assert.Contains("signature does not verify", forged.Message, StringComparison.Ordinal);
        var garbage = Assert.Throws<CryptographicException>(() => RevocationList.ParseFile("not a crl"u8.ToArray(), [ca]));
        Assert.Contains("X509 CRL", garbage.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pem_file_may_hold_the_crls_of_several_cas()
    {
        using var a = Authority("ca-a");
        using var b = Authority("ca-b", rsa: true);
        using var fromA = Issue(a, "node-a");
        using var fromB = Issue(b, "node-b");

        var lists = RevocationList.ParseFile(System.Text.Encoding.ASCII.GetBytes(Pem(Crl(a, fromA)) + Pem(Crl(b, fromB))), [a, b]);

        Assert.Equal(2, lists.Count);
        Assert.Contains(lists, l => l.Revokes(fromA));
        Assert.Contains(lists, l => l.Revokes(fromB));
    }

    [Fact]
    public void A_revoked_peer_is_refused_and_a_new_crl_takes_effect_without_a_restart()
    {
        using var ca = Authority("fabric-ca");
        using var first = Issue(ca, "node-1");
        using var second = Issue(ca, "node-2");
        var path = Path.Combine(_dir, "ca.crl");
        File.WriteAllText(path, Pem(Crl(ca, first)));
        var validator = new PeerCertificateValidator([ca], "/etc/fabric/ca.crt", CrlFile.Load(path, [ca]));

        EventFilter.Warning(contains: "is revoked by fabric.remote.tls.crl-file").Expect(1, () =>
            Assert.False(validator.Validate(Public(first), null, "[::1]:1", SslPolicyErrors.None, Log)));
        Assert.True(validator.Validate(Public(second), null, "[::1]:2", SslPolicyErrors.None, Log));

        // The operator revokes node-2 too: the next handshake sees it (a different size, so a new stamp).
        File.WriteAllBytes(path, Crl(ca, first, second));
        Assert.False(validator.Validate(Public(second), null, "[::1]:3", SslPolicyErrors.None, Log));

        // A broken new version keeps the previous lists in force, logged once.
        EventFilter.Error(contains: "cannot be used").Expect(1, () =>
        {
            File.WriteAllText(path, "-----BEGIN X509 CRL-----\nbroken\n-----END X509 CRL-----\n");
            Assert.False(validator.Validate(Public(first), null, "[::1]:4", SslPolicyErrors.None, Log));
            Assert.False(validator.Validate(Public(second), null, "[::1]:5", SslPolicyErrors.None, Log));
        });
        Assert.Equal(4, validator.Refused);

        // A missing file keeps the lists in force too, and is logged once, not at every handshake.
        File.Delete(path);
        EventFilter.Error(contains: "cannot be used").Expect(1, () =>
        {
            Assert.False(validator.Validate(Public(first), null, "[::1]:6", SslPolicyErrors.None, Log));
            Assert.False(validator.Validate(Public(second), null, "[::1]:7", SslPolicyErrors.None, Log));
        });
    }

    [Fact]
    public void A_crl_past_its_next_update_is_still_applied_with_one_warning()
    {
        using var ca = Authority("fabric-ca");
        using var node = Issue(ca, "node");
        var path = Path.Combine(_dir, "stale.crl");
        File.WriteAllBytes(path, Crl(ca, DateTimeOffset.UtcNow.AddMinutes(-5), node));
        var validator = new PeerCertificateValidator([ca], "ca.crt", CrlFile.Load(path, [ca]));

        EventFilter.Warning(contains: "was due for renewal").Expect(1, () =>
        {
            Assert.False(validator.Validate(Public(node), null, "[::1]:1", SslPolicyErrors.None, Log));
            Assert.False(validator.Validate(Public(node), null, "[::1]:2", SslPolicyErrors.None, Log));
        });
    }

    [Fact]
    public void At_start_an_unusable_crl_file_or_one_revoking_this_node_is_refused_naming_the_key()
    {
        using var ca = Authority("fabric-ca");
        using var other = Authority("other-ca");
        using var self = Issue(ca, "node-self");
        var caFile = Write("ca.crt", ca.ExportCertificatePem(), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var certificate = Write("self.crt", self.ExportCertificatePem(), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var key = Write("self.key", self.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem(), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        FabricConfigException Refused(string crlFile) => Assert.Throws<FabricConfigException>(() => RemoteTlsSettings.Read(ConfigReader.At(
            ConfigurationFactory.ParseString($"fabric.remote.tls {{ enabled = true, certificate-file = \"{certificate}\", key-file = \"{key}\", ca-file = \"{caFile}\", crl-file = \"{crlFile}\" }}")
                .WithFallback(FabricConfig.Reference), "fabric")));

        var missing = Refused(Path.Combine(_dir, "absent.crl"));
        Assert.Equal("fabric.remote.tls.crl-file", missing.Path);
        Assert.Contains("does not exist", missing.Problem, StringComparison.Ordinal);
        Assert.Contains("not a CA of ca-file", Refused(Write("other.crl", Pem(Crl(other)), UnixFileMode.UserRead | UnixFileMode.UserWrite)).Problem, StringComparison.Ordinal);
        Assert.Contains("revokes this node's own certificate \"CN=node-self\"", Refused(Write("self.crl", Pem(Crl(ca, self)), UnixFileMode.UserRead | UnixFileMode.UserWrite)).Problem, StringComparison.Ordinal);

        var fine = Write("fine.crl", Pem(Crl(ca)), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var settings = RemoteTlsSettings.Read(ConfigReader.At(
            ConfigurationFactory.ParseString($"fabric.remote.tls {{ enabled = true, certificate-file = \"{certificate}\", key-file = \"{key}\", ca-file = \"{caFile}\", crl-file = \"{fine}\" }}")
                .WithFallback(FabricConfig.Reference), "fabric"))!;
        Assert.Equal(fine, settings.Crl!.Path);
    }

    public new void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        base.Dispose();
    }

    private static X509Certificate2 Public(X509Certificate2 certificate) => X509CertificateLoader.LoadCertificate(certificate.RawData);

    private string Write(string name, string text, UnixFileMode mode)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, mode);
        return path;
    }
}
