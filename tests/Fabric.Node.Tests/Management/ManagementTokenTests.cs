using Fabric.Node.Management;
using Xunit;

namespace Fabric.Node.Tests.Management;

public sealed class ManagementTokenTests
{
    [Fact]
    public void Without_a_token_everything_is_authorized()
    {
        var token = new ManagementToken(null);

        Assert.False(token.IsRequired);
        Assert.True(token.IsAuthorized(null));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("s3cret", false)]
    [InlineData("Basic s3cret", false)]
    [InlineData("Bearer s3cre", false)]
    [InlineData("Bearer s3cret2", false)]
    [InlineData("Bearer s3cret", true)]
    [InlineData("bearer s3cret", true)]
    public void With_a_token_only_the_exact_bearer_is_authorized(string? header, bool expected)
    {
        Assert.Equal(expected, new ManagementToken("s3cret").IsAuthorized(header));
    }

    [Fact]
    public void Route_sets_are_discovered_by_reflection()
    {
        var names = ManagementRouteDiscovery.Discover().Select(r => r.GetType().Name).ToList();

        Assert.Contains(nameof(ClusterRoutes), names);
        Assert.Contains(nameof(HealthRoutes), names);
        Assert.Contains(nameof(BootstrapRoutes), names);
        Assert.Contains(nameof(MetricsRoutes), names);
    }
}
