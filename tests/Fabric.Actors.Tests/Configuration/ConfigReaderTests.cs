using Akka.Configuration;
using Fabric.Configuration;
using Xunit;

namespace Fabric.Actors.Tests.Configuration;

public sealed class ConfigReaderTests
{
    private static ConfigReader Read(string hocon, string path = "fabric") =>
        ConfigReader.At(ConfigurationFactory.ParseString(hocon), path);

    public enum SinkKind
    {
        Tap,
        PcapFile,
    }

    [Fact]
    public void GetInt_refuses_text_and_names_the_path()
    {
        var e = Assert.Throws<FabricConfigException>(() =>
            Read("fabric.management.http.port = abc", "fabric.management.http").GetInt("port", 1, 65535));

        Assert.Equal("fabric.management.http.port", e.Path);
        Assert.Equal("fabric.management.http.port: expected an integer 1-65535, got \"abc\"", e.Message);
    }

    [Fact]
    public void GetInt_refuses_out_of_range()
    {
        var e = Assert.Throws<FabricConfigException>(() => Read("fabric.port = 70000").GetInt("port", 1, 65535));

        Assert.Equal("fabric.port: expected an integer 1-65535, got 70000", e.Message);
    }

    [Fact]
    public void Missing_required_key_names_the_path()
    {
        var e = Assert.Throws<FabricConfigException>(() => Read("fabric.a = 1").GetString("b"));

        Assert.Equal("fabric.b: missing (required)", e.Message);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("3s", 3000)]
    [InlineData("1.5s", 1500)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    public void GetDuration_reads_units(string text, double ms)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(ms), Read($"fabric.d = \"{text}\"").GetDuration("d"));
    }

    [Fact]
    public void GetDuration_refuses_bad_unit()
    {
        var e = Assert.Throws<FabricConfigException>(() => Read("fabric.d = 3 parsecs").GetDuration("d"));

        Assert.Equal("fabric.d", e.Path);
    }

    [Theory]
    [InlineData("4096", 4096L)]
    [InlineData("64KiB", 65536L)]
    [InlineData("1GiB", 1073741824L)]
    [InlineData("100MB", 100_000_000L)]
    [InlineData("2M", 2097152L)]
    public void GetByteSize_reads_units(string text, long bytes)
    {
        Assert.Equal(bytes, Read($"fabric.s = \"{text}\"").GetByteSize("s"));
    }

    [Fact]
    public void GetByteSize_refuses_garbage_and_range()
    {
        Assert.Equal("fabric.s", Assert.Throws<FabricConfigException>(() => Read("fabric.s = lots").GetByteSize("s")).Path);
        Assert.Equal("fabric.s", Assert.Throws<FabricConfigException>(() => Read("fabric.s = 1GiB").GetByteSize("s", 0, 1024)).Path);
    }

    [Fact]
    public void GetBool_and_GetEnum_read_and_refuse()
    {
        var reader = Read("fabric { on = yes, off = false, kind = pcap-file, bad = maybe, other = vxlan }");

        Assert.True(reader.GetBool("on"));
        Assert.False(reader.GetBool("off"));
        Assert.Equal(SinkKind.PcapFile, reader.GetEnum<SinkKind>("kind"));
        Assert.Equal("fabric.bad: expected true or false, got \"maybe\"", Assert.Throws<FabricConfigException>(() => reader.GetBool("bad")).Message);
        Assert.Equal("fabric.other: expected one of tap, pcap-file, got \"vxlan\"", Assert.Throws<FabricConfigException>(() => reader.GetEnum<SinkKind>("other")).Message);
    }

    [Fact]
    public void GetStringList_reads_and_absent_is_empty()
    {
        var reader = Read("fabric.roles = [capture, supervisor]");

        Assert.Equal(["capture", "supervisor"], reader.GetStringList("roles"));
        Assert.Empty(reader.GetStringList("absent"));
        Assert.Empty(Read("fabric.roles = []").GetStringList("roles"));
        Assert.Empty(Read("fabric.sites = []").GetObjectList("sites"));
    }

    [Fact]
    public void Object_list_elements_know_their_path()
    {
        var reader = Read("""
            fabric.pipelines = [
              { name = a, sinks = [ { type = tap } ] }
              { name = b, sinks = [ { type = tap }, { type = pcap, port = abc } ] }
            ]
            """);

        var pipelines = reader.GetObjectList("pipelines");

        Assert.Equal("fabric.pipelines[1]", pipelines[1].Path);
        Assert.Equal("b", pipelines[1].GetString("name"));
        var sink = pipelines[1].GetObjectList("sinks")[1];
        var e = Assert.Throws<FabricConfigException>(() => sink.GetInt("port"));
        Assert.Equal("fabric.pipelines[1].sinks[1].port", e.Path);
    }

    [Fact]
    public void RejectUnknownKeys_names_the_unknown_key()
    {
        var element = Read("fabric.sites = [ { name = a, backend = ovs, colour = red } ]").GetObjectList("sites")[0];

        var e = Assert.Throws<FabricConfigException>(() => element.RejectUnknownKeys("name", "backend"));

        Assert.Equal("fabric.sites[0].colour", e.Path);
    }

    [Fact]
    public void A_scalar_where_a_list_is_expected_is_refused()
    {
        var e = Assert.Throws<FabricConfigException>(() => Read("fabric.sites = 3").GetObjectList("sites"));

        Assert.Equal("fabric.sites: expected a list [ ... ]", e.Message);
    }
}
