using Fabric.Configuration;
using Fabric.Actors.Mirrors;
using Xunit;
using Fabric.Actors.Mirrors.Registry;
using Fabric.Actors.Mirrors.Aws;
using Fabric.Actors.Mirrors.IosXe;
using Fabric.Actors.Mirrors.Proxmox;

namespace Fabric.Actors.Tests.Mirrors;

/// <summary>The proxmox, aws and iosxe keys of fabric.sites[] and fabric.mirrors[]: defaults, bad values named by their HOCON path, secret files.</summary>
public sealed class SiteBackendsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fs-sites-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static MirrorSettings Read(string hocon) => MirrorBackends.ReadSettings(FabricConfig.LoadFromText([("test.conf", hocon)]));

    private string Secret(UnixFileMode mode)
    {
        var path = Path.Combine(_dir, "secret-" + Guid.NewGuid().ToString("N")[..6]);
        File.WriteAllText(path, "do-not-print-me");
        File.SetUnixFileMode(path, mode);
        return path;
    }

    private string PrivateSecret => Secret(UnixFileMode.UserRead | UnixFileMode.UserWrite);

    [Fact]
    public void Proxmox_iosxe_and_aws_sites_and_their_sessions_read()
    {
        var secret = PrivateSecret;
        var settings = Read($$"""
            fabric.sites = [
              { name = pve, backend = proxmox, url = "https://pve1.example:8006", user = "fabric@pve!mirrors", secret-file = "{{secret}}",
                fingerprint = "{{new string('a', 64)}}", nodes { pve1 = "tcp:10.0.0.1:6640", pve2 = "unix:/run/ovs2.sock" } }
              { name = csr, backend = iosxe, url = "https://10.1.0.1", user = fabric, secret-file = "{{secret}}" }
              { name = aws-prod, backend = aws, region = eu-west-1 }
            ]
            fabric.mirrors = [
              { name = m1, site = pve, sources = ["vm:101/net1"], output = "vm:103/net1" }
              { name = m2, site = csr, sources = ["GigabitEthernet1"], output = "10.0.0.5", session-number = 1, erspan-id = 100, origin-ip = "10.0.0.1", mtu = 1464 }
              { name = m3, site = aws-prod, sources = ["tag:Role=web", "vpc:vpc-0a1"], output = "tmt-0123", filter-id = "tmf-0456", vni = 4242, packet-length = 128 }
              { name = m4, site = aws-prod, sources = ["tag:Role=db"], output = "tmt-0123", filter-id = "tmf-0456", pipeline = aws-mirror }
            ]
            """);
        var pve = settings.Site("pve")!;
        Assert.Equal(MirrorBackendKind.Proxmox, pve.Backend);
        Assert.Equal(["pve1", "pve2"], pve.Own<ProxmoxSiteSettings>().Nodes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("fabric@pve!mirrors", pve.Own<ProxmoxSiteSettings>().Api.User);
        Assert.Equal(new Uri("https://10.1.0.1"), settings.Site("csr")!.Own<IosXeSiteSettings>().Api.Url);
        Assert.Null(settings.Site("csr")!.Own<IosXeSiteSettings>().Api.Fingerprint);
        Assert.Equal("eu-west-1", settings.Site("aws-prod")!.Own<AwsSiteSettings>().Region);
        Assert.Equal(new MirrorBackendOptions(SessionNumber: 1, ErspanId: 100, OriginIp: "10.0.0.1", Mtu: 1464), settings.Mirrors[1].Options);
        Assert.Equal(new MirrorBackendOptions(FilterId: "tmf-0456", Vni: 4242, PacketLength: 128), settings.Mirrors[2].Options);
        Assert.Null(settings.Mirrors[0].Options);
        Assert.Equal("session-number=1 erspan-id=100 origin-ip=10.0.0.1 mtu=1464", settings.Mirrors[1].Opts.Describe());
        Assert.Equal("filter-id=tmf-0456 vni=4242 packet-length=128", settings.Mirrors[2].Opts.Describe());
        Assert.Equal(new MirrorBackendOptions(FilterId: "tmf-0456", Pipeline: "aws-mirror"), settings.Mirrors[3].Options);
        Assert.Equal("filter-id=tmf-0456 pipeline=aws-mirror", settings.Mirrors[3].Opts.Describe());
    }

    [Fact]
    public void World_readable_secret_file_is_refused_at_start_without_its_content()
    {
        var secret = Secret(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var ex = Assert.Throws<FabricConfigException>(() => Read($$"""
            fabric.sites = [ { name = csr, backend = iosxe, url = "https://10.1.0.1", user = fabric, secret-file = "{{secret}}" } ]
            """));
        Assert.Equal($"fabric.sites[0].secret-file: secret file \"{secret}\" is readable or writable by others (mode 644); chmod o-rw it", ex.Message);
        Assert.DoesNotContain("do-not-print-me", ex.Message, StringComparison.Ordinal);
        Assert.Throws<UnauthorizedAccessException>(() => new Fabric.Actors.Mirrors.Backends.SecretFile(secret).Read());
    }

    [Theory]
    [InlineData("{ name = s, backend = iosxe, url = \"http://10.1.0.1\", user = u, secret-file = SECRET }", "fabric.sites[0].url: expected an https:// URL without credentials, got \"http://10.1.0.1\"")]
    [InlineData("{ name = s, backend = proxmox, url = \"https://pve:8006\", user = root, secret-file = SECRET, nodes { a = \"tcp:10.0.0.1:6640\" } }", "fabric.sites[0].user: expected a Proxmox API token id USER@REALM!TOKENID, got \"root\"")]
    [InlineData("{ name = s, backend = proxmox, url = \"https://pve:8006\", user = \"a@pve!t\", secret-file = SECRET }", "fabric.sites[0].nodes: expected at least one Proxmox node with its OVSDB endpoint, e.g. nodes { pve1 = \"tcp:10.0.0.1:6640\" }")]
    [InlineData("{ name = s, backend = iosxe, url = \"https://r\", user = u, secret-file = SECRET, fingerprint = \"abc\" }", "fabric.sites[0].fingerprint: expected the certificate's SHA-256 fingerprint as 64 hex digits (colons allowed)")]
    [InlineData("{ name = s, backend = aws, region = \"Mars\" }", "fabric.sites[0].region: expected an AWS region such as eu-west-1, got \"Mars\"")]
    [InlineData("{ name = s, backend = aws, region = eu-west-1, url = \"https://x\" }", "fabric.sites[0].url: not a key of backend aws")]
    [InlineData("{ name = s, backend = iosxe, url = \"https://r\", user = u, secret-file = \"/nonexistent/fs-secret\" }", "fabric.sites[0].secret-file: secret file \"/nonexistent/fs-secret\" does not exist")]
    public void Bad_site_values_are_named_by_their_path(string site, string message)
    {
        var ex = Assert.Throws<FabricConfigException>(() => Read("fabric.sites = [ " + site.Replace("SECRET", "\"" + PrivateSecret + "\"", StringComparison.Ordinal) + " ]"));
        Assert.Equal(message, ex.Message);
    }

    [Theory]
    [InlineData("{ name = m, site = csr, sources = [\"GigabitEthernet1\"], output = \"10.0.0.5\", session-number = 1, origin-ip = \"10.0.0.1\" }", "fabric.mirrors[0].erspan-id: expected 1-1023, required for backend iosxe")]
    [InlineData("{ name = m, site = csr, sources = [\"vm:101/net1\"], output = \"10.0.0.5\", session-number = 1, erspan-id = 1, origin-ip = \"10.0.0.1\" }", "fabric.mirrors[0].sources[0]: expected a router interface name (e.g. GigabitEthernet1), got \"vm:101/net1\"")]
    [InlineData("{ name = m, site = csr, sources = [\"Gi1\"], output = \"sensor\", session-number = 1, erspan-id = 1, origin-ip = \"10.0.0.1\" }", "fabric.mirrors[0].output: expected the ERSPAN destination IPv4 address for backend iosxe, got \"sensor\"")]
    [InlineData("{ name = m, site = aws, sources = [\"tag:Role=web\"], output = \"tmt-0a\", vni = 1 }", "fabric.mirrors[0].filter-id: expected a traffic mirror filter id (tmf-…), required for backend aws, got \"\"")]
    [InlineData("{ name = m, site = aws, sources = [\"eth0\"], output = \"tmt-0a\", filter-id = \"tmf-0b\", vni = 1 }", "fabric.mirrors[0].sources[0]: expected \"tag:Key=Value\", \"vpc:vpc-…\" or \"subnet:subnet-…\", got \"eth0\"")]
    [InlineData("{ name = m, site = aws, sources = [\"tag:Role=web\"], output = \"tmt-0a\", filter-id = \"tmf-0b\", vni = 1, session-number = 40000 }", "fabric.mirrors[0].session-number: expected 1-32766, got 40000")]
    [InlineData("{ name = m, site = aws, sources = [\"tag:Role=web\"], output = \"tmt-0a\", filter-id = \"tmf-0b\", vni = 16777216 }", "fabric.mirrors[0].vni: expected 0-16777215 (or no vni: AWS picks one per session), got 16777216")]
    [InlineData("{ name = m, site = aws, sources = [\"tag:Role=web\"], output = \"tmt-0a\", filter-id = \"tmf-0b\", pipeline = \"AWS Mirror\" }", "fabric.mirrors[0].pipeline: expected a pipeline name (lower-case letters, digits and '-', at most 40), got \"AWS Mirror\"")]
    [InlineData("{ name = m, site = aws, sources = [\"tag:Role=web\"], output = \"tmt-0a\", filter-id = \"tmf-0b\", pipeline = \"-mirror\" }", "fabric.mirrors[0].pipeline: expected a pipeline name (lower-case letters, digits and '-', at most 40), got \"-mirror\"")]
    [InlineData("{ name = m, site = csr, sources = [\"GigabitEthernet1\"], output = \"10.0.0.5\", session-number = 1, erspan-id = 1, origin-ip = \"10.0.0.1\", pipeline = p }", "fabric.mirrors[0].filter-id: filter-id, vni, packet-length and pipeline are for backend aws")]
    public void Bad_session_values_of_the_new_backends_are_named_by_their_path(string mirror, string message)
    {
        var secret = PrivateSecret;
        var ex = Assert.Throws<FabricConfigException>(() => Read($$"""
            fabric.sites = [ { name = csr, backend = iosxe, url = "https://r", user = u, secret-file = "{{secret}}" }, { name = aws, backend = aws, region = eu-west-1 } ]
            fabric.mirrors = [ {{mirror}} ]
            """));
        Assert.Equal(message, ex.Message);
    }
}
