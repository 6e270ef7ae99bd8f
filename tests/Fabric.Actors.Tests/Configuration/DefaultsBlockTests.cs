using Akka.Configuration;
using Fabric.Configuration;
using Fabric.Actors.Pipelines;
using Fabric.Actors.Sinks;
using Xunit;

namespace Fabric.Actors.Tests.Configuration;

/// <summary>List elements read over their fabric.defaults block (docs/architecture.md "Configuration").</summary>
public class DefaultsBlockTests
{
    // Akka's HOCON parser wants a newline, not a comma, after a nested object inside an object.
    private static Config Load(string text) =>
        ConfigurationFactory.ParseString(System.Text.RegularExpressions.Regex.Replace(text, @"\}, (?=[a-z])", "}\n"))
            .WithFallback(FabricConfig.Reference);

    [Fact]
    public void A_sink_takes_its_default_from_the_block_an_operator_may_change()
    {
        var config = Load("""
            fabric.defaults.sink.tap.mtu = 1500
            fabric.pipelines = [ { name = p, source { interface = ens4 }, sinks = [ { type = tap, device = mon0 } ] } ]
            """);

        var tap = Assert.IsType<TapSinkSettings>(Assert.Single(Assert.Single(PipelineSettingsReader.Read(config)).Sinks));

        Assert.Equal(1500, tap.Mtu);
        Assert.True(tap.Persistent);
    }

    [Fact]
    public void A_tap_sink_writes_through_an_io_uring_unless_told_not_to_and_a_bad_value_is_named()
    {
        static TapSinkSettings Tap(string sink) => Assert.IsType<TapSinkSettings>(Assert.Single(Assert.Single(PipelineSettingsReader.Read(Load(
            $"fabric.pipelines = [ {{ name = p, source {{ interface = ens4 }}, sinks = [ {sink} ] }} ]"))).Sinks));

        Assert.True(Tap("{ type = tap, device = mon0 }").IoUring);
        Assert.False(Tap("{ type = tap, device = mon0, io-uring = off }").IoUring);
        var e = Assert.Throws<FabricConfigException>(() => Tap("{ type = tap, device = mon0, io-uring = sometimes }"));
        Assert.Equal("fabric.pipelines[0].sinks[0].io-uring", e.Path);
    }

    [Fact]
    public void A_bad_value_from_the_block_is_named_by_the_elements_path()
    {
        var config = Load("""
            fabric.defaults.sink.pcap.rotate-size = lots
            fabric.pipelines = [ { name = p, source { interface = ens4 }, sinks = [ { type = tap, device = mon0 }, { type = pcap, directory = "/tmp/x" } ] } ]
            """);

        var e = Assert.Throws<FabricConfigException>(() => PipelineSettingsReader.Read(config));

        Assert.Equal("fabric.pipelines[0].sinks[1].rotate-size", e.Path);
    }

    [Fact]
    public void Keys_and_HasOwn_see_only_the_elements_own_keys()
    {
        var config = Load("fabric.pipelines = [ { name = p } ]");
        var element = Assert.Single(ConfigReader.At(config, "fabric").GetObjectList("pipelines"))
            .WithDefaults(ConfigReader.At(config, PipelineSettingsReader.PipelineDefaultsPath));

        Assert.Equal(["name"], element.Keys);
        Assert.False(element.HasOwn("dedup"));
        Assert.True(element.Has("dedup"));
        Assert.Equal(1024, element.GetInt("batch-packets"));
    }

    [Fact]
    public void A_pipelines_decap_is_read_over_fabric_decap_and_errors_name_the_pipeline()
    {
        var ok = Load("""
            fabric.decap.max-depth = 3
            fabric.pipelines = [ { name = p, source { interface = ens4 }, decap { ip-in-ip = false }, sinks = [ { type = tap, device = mon0 } ] } ]
            """);
        var bad = Load("fabric.pipelines = [ { name = p, source { interface = ens4 }, decap { erspan-vlan = sideways }, sinks = [ { type = tap, device = mon0 } ] } ]");

        var options = Assert.Single(PipelineSettingsReader.Read(ok)).Decap.Options;
        var e = Assert.Throws<FabricConfigException>(() => PipelineSettingsReader.Read(bad));

        Assert.Equal(3, options.MaxDepth);
        Assert.False(options.IpInIp);
        Assert.Equal("fabric.pipelines[0].decap.erspan-vlan", e.Path);
    }
}
