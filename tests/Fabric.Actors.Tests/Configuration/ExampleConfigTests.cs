using Fabric.Configuration;
using Fabric.Actors.Hosting;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Pipelines;
using Fabric.Actors.Mirrors.Registry;

namespace Fabric.Actors.Tests.Configuration;

/// <summary>
/// The example configurations in hocon/examples/ are what operators copy: each must load over the
/// reference (no unknown key) and pass every settings reader a node runs at start.
/// </summary>
public sealed class ExampleConfigTests : IDisposable
{
    private readonly string _secrets = Directory.CreateTempSubdirectory("fabric-example-").FullName;

    public static TheoryData<string> Examples()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "hocon", "examples"), "*.conf").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Fact]
    public void There_are_examples_for_a_sensor_a_site_and_a_cluster_node()
    {
        Assert.Superset(
            new HashSet<string>(["sensor-aws-mirror.conf", "sensor-erspan.conf", "site-proxmox-ovs.conf", "cluster-node.conf"]),
            Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "hocon", "examples"), "*.conf").Select(Path.GetFileName).ToHashSet()!);
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_loads_and_passes_every_settings_reader(string name)
    {
        // Secret files the examples point at (/etc/fabric/...) are replaced by real 0600 files here.
        var token = Secret("management-token", "example-token");
        var postgres = Secret("postgres-connection", "Host=127.0.0.1;Database=fabric;Username=fabric;Password=x");
        var config = FabricConfig.LoadFromText([
            (name, File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "hocon", "examples", name))),
            ("test overrides", $$"""
                fabric.data-dir = "{{_secrets}}"
                fabric.management.token-file = {{(name == "cluster-node.conf" ? $"\"{token}\"" : "\"\"")}}
                fabric.persistence.postgresql.connection-string-file = {{(name == "cluster-node.conf" ? $"\"{postgres}\"" : "\"\"")}}
                """),
        ]);

        var node = FabricNodeSettings.Read(config);
        var pipelines = PipelineSettingsReader.Read(config);
        var mirrors = MirrorBackends.ReadSettings(config);

        Assert.NotEmpty(node.Roles);
        Assert.True(pipelines.Count + mirrors.Mirrors.Length > 0 || name == "cluster-node.conf", $"{name} declares nothing");
    }

    public void Dispose() => Directory.Delete(_secrets, recursive: true);

    private string Secret(string file, string content)
    {
        var path = Path.Combine(_secrets, file);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }
}
