using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using Fabric.Configuration;
using Fabric.Actors.Pipelines;
using Fabric.Actors.Sinks;
using Fabric.Protocols.NodeStream;
using Xunit;

namespace Fabric.Actors.Tests.Pipelines;

/// <summary>The stream sink's and source's keys (hocon/fabric.conf), and their TLS: the node's fabric.remote.tls or nothing.</summary>
public sealed class StreamSettingsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fabric-stream-settings-").FullName;

    public StreamSettingsTests()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=test-ca", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        using var nodeKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var nodeRequest = new CertificateRequest("CN=node", nodeKey, HashAlgorithmName.SHA256);
        using var node = nodeRequest.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), [1, 2, 3, 4]);
        File.WriteAllText(Path.Combine(_directory, "ca.crt"), ca.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_directory, "node.crt"), node.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_directory, "node.key"), nodeKey.ExportPkcs8PrivateKeyPem());
        File.SetUnixFileMode(Path.Combine(_directory, "node.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private string Tls => $$"""
        fabric.remote.tls { enabled = true, certificate-file = "{{_directory}}/node.crt", key-file = "{{_directory}}/node.key", ca-file = "{{_directory}}/ca.crt" }
        """;

    // Akka's HOCON parser wants a newline, not a comma, after a nested object inside an object (as in
    // PipelineSettingsReaderTests): "}, key" is turned into "}\nkey".
    private static Config Load(string pipelines, string extra = "") =>
        ConfigurationFactory.ParseString(extra + "\nfabric.pipelines = " + System.Text.RegularExpressions.Regex.Replace(pipelines, @"\}, (?=[a-z])", "}\n"))
            .WithFallback(FabricConfig.Reference);

    [Fact]
    public void A_stream_sink_and_source_are_read_with_their_defaults_and_the_nodes_certificate()
    {
        var pipelines = PipelineSettingsReader.Read(Load("""
            [ { name = edge, source { interface = ens4 }, sinks = [ { type = stream, destination = "central.example:7400" } ] }
              { name = central
                source { stream { listen = "0.0.0.0:7400" } }
                sinks = [ { type = tap, device = mon0 } ] } ]
            """, Tls));

        var sink = Assert.IsType<StreamSinkSettings>(Assert.Single(pipelines[0].Sinks));
        Assert.Equal(("central.example", 7400, "stream-0"), (sink.Host, sink.Port, sink.Stage));
        Assert.Equal((StreamCompression.Lz4, 0, 4), (sink.Compression, sink.Level, sink.SendBuffer));
        Assert.Equal(SinkWhenFull.Wait, sink.WhenFull);
        Assert.Equal("CN=node", sink.Tls.Certificate.Subject);
        var source = pipelines[1].Source.Stream;
        Assert.NotNull(source);
        Assert.Equal(("0.0.0.0:7400", 8, 16 << 20), (source.Listen.ToString(), source.MaxConnections, source.MaxRecordBytes));
        Assert.Equal("stream:0.0.0.0:7400", pipelines[1].Source.SourceName);
    }

    [Fact]
    public void The_peer_check_accepts_the_nodes_ca_and_refuses_another()
    {
        var sink = (StreamSinkSettings)Assert.Single(PipelineSettingsReader.Read(Load("""
            [ { name = edge, source { interface = ens4 }, sinks = [ { type = stream, destination = "10.0.0.1:7400" } ] } ]
            """, Tls))[0].Sinks);
        Assert.Null(sink.Tls.Check(sink.Tls.Certificate, null));
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = new CertificateRequest("CN=other", otherKey, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        Assert.Contains("does not chain to fabric.remote.tls.ca-file", sink.Tls.Check(other, null), StringComparison.Ordinal);
    }

    [Fact]
    public void A_stream_without_remote_tls_is_refused_naming_the_key()
    {
        var e = Assert.Throws<FabricConfigException>(() => PipelineSettingsReader.Read(Load("""
            [ { name = edge, source { interface = ens4 }, sinks = [ { type = stream, destination = "10.0.0.1:7400" } ] } ]
            """)));
        Assert.Equal("fabric.pipelines[0].sinks[0].type", e.Path);
        Assert.Contains("fabric.remote.tls.enabled = true", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<FabricConfigException>(() => PipelineSettingsReader.Read(Load("""
            [ { name = central, source { stream { listen = "0.0.0.0:7400" } }, sinks = [ { type = tap, device = mon0 } ] } ]
            """)));
        Assert.Equal("fabric.pipelines[0].source.stream.listen", e.Path);
    }

    [Theory]
    [InlineData("destination = \"central.example\"", "fabric.pipelines[0].sinks[0].destination")]
    [InlineData("destination = \"a:99999\"", "fabric.pipelines[0].sinks[0].destination")]
    [InlineData("destination = \"a:1\", compression = brotli", "fabric.pipelines[0].sinks[0].compression")]
    [InlineData("destination = \"a:1\", compression = zstd, level = 30", "fabric.pipelines[0].sinks[0].level")]
    [InlineData("destination = \"a:1\", compression = none, level = 3", "fabric.pipelines[0].sinks[0].level")]
    [InlineData("destination = \"a:1\", send-buffer = 0", "fabric.pipelines[0].sinks[0].send-buffer")]
    [InlineData("destination = \"a:1\", plaintext = on", "fabric.pipelines[0].sinks[0].plaintext")]
    public void A_bad_stream_sink_value_names_its_key(string keys, string path)
    {
        var e = Assert.Throws<FabricConfigException>(() => PipelineSettingsReader.Read(Load(
            $"[ {{ name = edge, source {{ interface = ens4 }}, sinks = [ {{ type = stream, {keys} }} ] }} ]", Tls)));
        Assert.Equal(path, e.Path);
    }

    [Fact]
    public void A_batch_larger_than_a_record_is_refused()
    {
        var e = Assert.Throws<FabricConfigException>(() => PipelineSettingsReader.Read(Load("""
            [ { name = edge, source { interface = ens4 }, batch-bytes = 128MiB, sinks = [ { type = stream, destination = "a:1" } ] } ]
            """, Tls)));
        Assert.Equal("fabric.pipelines[0].batch-bytes", e.Path);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
