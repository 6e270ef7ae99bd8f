using Fabric.Configuration;
using Fabric.Actors.Hosting;
using Xunit;

namespace Fabric.Actors.Tests.Hosting;

/// <summary>A feature as others write them: validated before start, started on its role.</summary>
public sealed class ProbeFeature : IFabricFeature
{
    public string Name => "probe-feature";

    public void Validate(FabricStartupInfo startup)
    {
        ArgumentNullException.ThrowIfNull(startup);
        if (startup.Config.HasPath("fabric.data-dir") && startup.Config.GetString("fabric.data-dir") == "/refused")
        {
            throw new FabricConfigException("fabric.data-dir", "refused by the probe feature");
        }
    }

    public bool ShouldStart(FabricStartupInfo startup) => startup?.HasRole("capture") == true;

    public Task StartAsync(FabricNodeContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Not discoverable: no parameterless constructor.</summary>
public sealed class FeatureWithArguments(string name) : IFabricFeature
{
    public string Name => name;

    public void Validate(FabricStartupInfo startup)
    {
    }

    public bool ShouldStart(FabricStartupInfo startup) => true;

    public Task StartAsync(FabricNodeContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

public sealed class FabricFeaturesTests
{
    [Fact]
    public void Discovers_public_features_with_a_parameterless_constructor()
    {
        var features = FabricFeatures.Discover([typeof(ProbeFeature).Assembly]);

        Assert.Contains(features, f => f is ProbeFeature);
        Assert.DoesNotContain(features, f => f is FeatureWithArguments);
    }

    [Fact]
    public void Startup_info_carries_roles_for_ShouldStart_and_config_for_Validate()
    {
        var config = FabricConfig.LoadFromText([("test", "fabric.data-dir = /refused")]);
        var capture = new FabricStartupInfo(config, new HashSet<string> { "capture" }, "/refused");
        var supervisor = new FabricStartupInfo(config, new HashSet<string> { "supervisor" }, "/refused");
        var feature = new ProbeFeature();

        Assert.True(feature.ShouldStart(capture));
        Assert.False(feature.ShouldStart(supervisor));
        Assert.Equal("fabric.data-dir", Assert.Throws<FabricConfigException>(() => feature.Validate(capture)).Path);
    }
}
