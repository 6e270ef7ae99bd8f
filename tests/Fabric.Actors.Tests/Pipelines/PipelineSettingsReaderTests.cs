using Akka.Configuration;
using Fabric.Configuration;
using Fabric.Actors.Pipelines;
using Fabric.Actors.Sinks;
using Xunit;

namespace Fabric.Actors.Tests.Pipelines;

public class PipelineSettingsReaderTests
{
    // Akka's HOCON parser wants a newline, not a comma, after a nested object inside an object:
    // the one-line cases below are written with ", " and turned into newlines here.
    private static Config Load(string pipelines) =>
        ConfigurationFactory.ParseString("fabric.pipelines = " + System.Text.RegularExpressions.Regex.Replace(pipelines, @"\}, (?=[a-z])", "}\n"))
            .WithFallback(FabricConfig.Reference);

    [Fact]
    public void The_issue_shape_is_read_with_defaults()
    {
        var config = Load("""
            [ {
                name = aws-mirror
                source { interface = ens4 }
                capture-cpu = 0
                decap { max-depth = 2 }
                filter = "tcp or udp"
                dedup { window = 2s }
                sinks = [
                  { type = tap, device = mon0, mtu = 9000 }
                  { type = pcap, directory = "/var/lib/fabric/pcap", rotate-size = 1GiB, rotate-interval = 1h, keep-size = 20TiB, keep-age = 30d }
                  { type = forward, encapsulation = vxlan, destination = "192.0.2.9:4789", vni = 42 }
                ]
            } ]
            """);

        var pipeline = Assert.Single(PipelineSettingsReader.Read(config));
        Assert.Equal("aws-mirror", pipeline.Name);
        Assert.Equal("ens4", pipeline.Source.Interface);
        Assert.Equal(0, pipeline.Source.Cpu);
        Assert.Equal(65535, pipeline.Source.Snaplen);
        Assert.Equal(16 << 20, pipeline.Source.KernelBufferBytes);
        Assert.All(pipeline.Sinks, s => Assert.Equal(SinkWhenFull.Drop, s.WhenFull)); // several sinks: none holds the others back
        Assert.Equal(2, pipeline.Decap.Options.MaxDepth);
        Assert.Equal(TimeSpan.FromSeconds(2), pipeline.Decap.DedupWindow);
        var tap = Assert.IsType<TapSinkSettings>(pipeline.Sinks[0]);
        Assert.Equal(("mon0", 9000, "tap-mon0"), (tap.Device, tap.Mtu, tap.Stage));
        var pcap = Assert.IsType<PcapSinkSettings>(pipeline.Sinks[1]);
        Assert.Equal(1L << 30, pcap.RotateSize);
        Assert.Equal(20L << 40, pcap.KeepSize);
        Assert.Equal(TimeSpan.FromDays(30), pcap.KeepAge);
        var forward = Assert.IsType<ForwardSinkSettings>(pipeline.Sinks[2]);
        Assert.Equal(("192.0.2.9:4789", 42), (forward.Destination.ToString(), forward.Vni));
        Assert.Equal(64, pipeline.Decap.VniCounters);
        Assert.Empty(pipeline.Decap.AllowedVnis);
    }

    [Fact]
    public void Vni_counters_and_allowed_vnis_are_read()
    {
        var pipeline = Assert.Single(PipelineSettingsReader.Read(Load(
            "[ { name = a, source { interface = x0 }, vni-counters = 8, allowed-vnis = [4242, 0, 16777215], sinks = [ { type = tap, device = t0 } ] } ]")));
        Assert.Equal(8, pipeline.Decap.VniCounters);
        Assert.Equal([4242, 0, 16_777_215], pipeline.Decap.AllowedVnis);
    }

    [Fact]
    public void Session_names_are_read_by_source_name()
    {
        var pipeline = Assert.Single(PipelineSettingsReader.Read(Load(
            "[ { name = a, source { interface = x0 }, session-names = [ { source = \"erspan 198.18.1.10 session 7\", name = branch-12 }, { source = \"gre 2001:db8::1\", name = \"lab core\" } ], sinks = [ { type = tap, device = t0 } ] } ]")));
        Assert.Equal(new Dictionary<string, string> { ["erspan 198.18.1.10 session 7"] = "branch-12", ["gre 2001:db8::1"] = "lab core" }, pipeline.Decap.SessionNames);
        Assert.Empty(Assert.Single(PipelineSettingsReader.Read(Load(
            "[ { name = a, source { interface = x0 }, sinks = [ { type = tap, device = t0 } ] } ]"))).Decap.SessionNames);
    }

    [Theory]
    [InlineData("[ { name = a, source { interface = x0 }, session-names = [ { source = \"erspan 198.18.1.10 vni 7\", name = x } ], sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].session-names[0].source")]
    [InlineData("[ { name = a, source { interface = x0 }, session-names = [ { source = \"vxlan 10.0.0.5 vni 1\", name = x }, { source = \"vxlan 10.0.0.05 vni 1\", name = y } ], sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].session-names[1].source")]
    [InlineData("[ { name = a, source { interface = x0 }, session-names = [ { source = \"vxlan 10.0.0.5 vni 1\", name = x }, { source = \"vxlan 10.0.0.5 vni 1\", name = y } ], sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].session-names[1].source")]
    [InlineData("[ { name = a, source { interface = x0 }, session-names = [ { source = \"gre 10.0.0.5\", name = \"\" } ], sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].session-names[0].name")]
    [InlineData("[ { name = a, source { interface = x0 }, session-names = [ { source = \"gre 10.0.0.5\", name = x, vlan = 3 } ], sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].session-names[0].vlan")]
    public void Bad_session_names_are_refused_with_the_entry_path(string pipelines, string path)
    {
        var e = Assert.Throws<FabricConfigException>(() => PipelineSettingsReader.Read(Load(pipelines)));
        Assert.Equal(path, e.Path);
    }

    [Theory]
    [InlineData("[ { name = a, source { interface = x0 }, sinks = [ { type = tap, device = t0 }, { type = pcap, directory = \"/tmp/p\", rotate-size = lots } ] } ]",
        "fabric.pipelines[0].sinks[1].rotate-size")]
    [InlineData("[ { name = a, source { interface = x0 }, colour = red, sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].colour")]
    [InlineData("[ { name = a, source { interface = x0 }, sinks = [ { type = tap, device = t0, speed = 3 } ] } ]",
        "fabric.pipelines[0].sinks[0].speed")]
    [InlineData("[ { name = a, source { interface = x0 }, sinks = [ { type = mirror } ] } ]",
        "fabric.pipelines[0].sinks[0].type")]
    [InlineData("[ { name = a, source { interface = x0 }, capture-cpu = 1000, sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].capture-cpu")]
    [InlineData("[ { name = a, source { interface = x0 }, filter = \"tcp and and\", sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].filter")]
    [InlineData("[ { name = a, source { interface = x0, file = \"/etc/hostname\" }, sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].source.file")]
    [InlineData("[ { name = a, source { interface = x0 }, decap { max-depth = 99 }, sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].decap.max-depth")]
    [InlineData("[ { name = a, source { interface = x0 }, sinks = [] } ]",
        "fabric.pipelines[0].sinks")]
    [InlineData("[ { name = a, source { interface = x0 }, sinks = [ { type = tap, device = t0 } ] }, { name = a, source { interface = x1 }, sinks = [ { type = tap, device = t1 } ] } ]",
        "fabric.pipelines[1].name")]
    [InlineData("[ { name = a, source { interface = x0 }, sinks = [ { type = forward, destination = \"nowhere\" } ] } ]",
        "fabric.pipelines[0].sinks[0].destination")]
    [InlineData("[ { name = A_B, source { interface = x0 }, sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].name")]
    [InlineData("[ { name = a, source { interface = x0 }, vni-counters = 5000, sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].vni-counters")]
    [InlineData("[ { name = a, source { interface = x0 }, sinks = [ { type = tap, device = t0, when-full = block } ] } ]",
        "fabric.pipelines[0].sinks[0].when-full")]
    [InlineData("[ { name = a, source { interface = x0 }, sinks = [ { type = pcap, directory = \"/tmp/p\", cpu = 1000 } ] } ]",
        "fabric.pipelines[0].sinks[0].cpu")]
    [InlineData("[ { name = a, source { interface = x0 }, allowed-vnis = [1, 16777216], sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].allowed-vnis[1]")]
    [InlineData("[ { name = a, source { interface = x0 }, nice = -21, sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].nice")]
    [InlineData("[ { name = a, source { interface = x0 }, nice = 20, sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].nice")]
    [InlineData("[ { name = a, source { interface = x0 }, nice = high, sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].nice")]
    [InlineData("[ { name = a, source { interface = x0 }, nice = 1.5, sinks = [ { type = tap, device = t0 } ] } ]",
        "fabric.pipelines[0].nice")]
    public void Bad_values_and_unknown_keys_are_refused_with_their_path(string pipelines, string path)
    {
        var e = Assert.Throws<FabricConfigException>(() => PipelineSettingsReader.Read(Load(pipelines)));
        Assert.Equal(path, e.Path);
        Assert.StartsWith(path + ": ", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{ name = a }")]
    [InlineData("\"text\"")]
    [InlineData("42")]
    public void Pipelines_that_are_not_a_list_are_refused(string value)
    {
        var config = ConfigurationFactory.ParseString("fabric.pipelines = " + value).WithFallback(FabricConfig.Reference);
        var e = Assert.Throws<FabricConfigException>(() => PipelineSettingsReader.Read(config));
        Assert.Equal("fabric.pipelines", e.Path);
    }

    [Fact]
    public void No_pipelines_is_an_empty_list()
    {
        Assert.Empty(PipelineSettingsReader.Read(FabricConfig.Reference));
    }

    [Fact]
    public void Nice_defaults_to_minus_10_on_every_data_plane_thread_of_the_pipeline()
    {
        var pipeline = Assert.Single(PipelineSettingsReader.Read(Load("""
            [ { name = a, source { interface = x0 }, sinks = [
                { type = tap, device = t0 }
                { type = balance, members = [ { type = tap, device = t1 }, { type = tap, device = t2 } ] }
            ] } ]
            """)));

        var nice = Assert.IsType<Fabric.Actors.DataPlane.ThreadNice>(pipeline.Source.Nice);
        Assert.Equal(-10, nice.Value);
        Assert.Equal("a", nice.Pipeline);
        Assert.Same(nice, pipeline.Decap.Nice);
        Assert.All(pipeline.Sinks, s => Assert.Same(nice, s.Nice));
        Assert.All(Assert.IsType<BalanceSinkSettings>(pipeline.Sinks[1]).Members, m => Assert.Same(nice, m.Nice));
    }

    [Theory]
    [InlineData("nice = null", null)]
    [InlineData("nice = 5", 5)]
    [InlineData("nice = -20", -20)]
    [InlineData("nice = 19", 19)]
    public void Nice_is_an_integer_minus_20_to_19_or_null(string setting, int? expected)
    {
        var pipeline = Assert.Single(PipelineSettingsReader.Read(Load(
            $"[ {{ name = a, source {{ interface = x0 }}, {setting}, sinks = [ {{ type = tap, device = t0 }} ] }} ]")));

        Assert.Equal(expected, pipeline.Source.Nice?.Value);
        Assert.Equal(expected, pipeline.Decap.Nice?.Value);
        Assert.Equal(expected, Assert.Single(pipeline.Sinks).Nice?.Value);
    }

    [Fact]
    public void A_bad_nice_is_one_line_naming_the_range_and_null()
    {
        var e = Assert.Throws<FabricConfigException>(() => PipelineSettingsReader.Read(Load(
            "[ { name = a, source { interface = x0 }, nice = 42, sinks = [ { type = tap, device = t0 } ] } ]")));

        Assert.Equal("fabric.pipelines[0].nice: expected an integer -20..19 or null, got \"42\"", e.Message);
    }
}
