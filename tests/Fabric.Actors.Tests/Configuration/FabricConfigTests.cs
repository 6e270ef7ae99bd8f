using Fabric.Configuration;
using Xunit;

namespace Fabric.Actors.Tests.Configuration;

public sealed class FabricConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fabric-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Reference_alone_loads_and_has_the_management_defaults()
    {
        var config = FabricConfig.Load([]);

        Assert.Equal(8558, config.GetInt("fabric.management.http.port"));
        Assert.Equal("127.0.0.1", config.GetString("fabric.management.http.host"));
    }

    [Fact]
    public void Later_files_win_over_earlier_files_and_the_reference()
    {
        var first = Write("a.conf", "fabric.management.http.port = 9000\nfabric.management.http.host = 0.0.0.0");
        var second = Write("b.conf", "fabric.management.http.port = 9001");

        var config = FabricConfig.Load([first, second]);

        Assert.Equal(9001, config.GetInt("fabric.management.http.port"));
        Assert.Equal("0.0.0.0", config.GetString("fabric.management.http.host"));
    }

    [Fact]
    public void Unknown_key_under_fabric_is_refused_with_its_path()
    {
        var file = Write("a.conf", "fabric.management.http { prot = 9000 }");

        var e = Assert.Throws<FabricConfigException>(() => FabricConfig.Load([file]));

        Assert.Equal("fabric.management.http.prot", e.Path);
        Assert.StartsWith("fabric.management.http.prot: unknown key", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_top_level_fabric_key_is_refused_even_in_an_earlier_file()
    {
        var first = Write("a.conf", "fabric.nonsense = 1");
        var second = Write("b.conf", "fabric.management.http.port = 9001");

        var e = Assert.Throws<FabricConfigException>(() => FabricConfig.Load([first, second]));

        Assert.Equal("fabric.nonsense", e.Path);
    }

    [Fact]
    public void Keys_outside_fabric_are_not_checked_against_the_reference()
    {
        var file = Write("a.conf", "akka.discovery.config.services.fabric.endpoints = [\"127.0.0.1:8558\"]");

        var config = FabricConfig.Load([file]);

        Assert.Equal(["127.0.0.1:8558"], config.GetStringList("akka.discovery.config.services.fabric.endpoints"));
    }

    [Fact]
    public void Missing_file_is_one_line_naming_the_file()
    {
        var missing = Path.Combine(_dir, "nope.conf");

        var e = Assert.Throws<FabricConfigException>(() => FabricConfig.Load([missing]));

        Assert.Equal(missing, e.Path);
        Assert.Equal($"{missing}: config file not found", e.Message);
    }

    [Fact]
    public void Unparseable_file_is_one_line_naming_the_file()
    {
        var file = Write("bad.conf", "fabric.data-dir = ${undefined-variable}\n");

        var e = Assert.Throws<FabricConfigException>(() => FabricConfig.Load([file]));

        Assert.Equal(file, e.Path);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("not valid HOCON", e.Message, StringComparison.Ordinal);
    }
}
