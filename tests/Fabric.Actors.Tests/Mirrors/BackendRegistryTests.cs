using Akka.TestKit.Xunit2;
using Fabric.Actors.Configuration;
using Fabric.Actors.Mirrors;
using Xunit;

namespace Fabric.Actors.Tests.Mirrors;

/// <summary>
/// Every backend is one folder behind <see cref="IMirrorBackendPlugin"/>, registered once in
/// <see cref="MirrorBackends"/>: each exposes its site keys (refused on a site of another backend,
/// listed in the unknown-key message), its session checks (reached through
/// <see cref="MirrorSessionSpec.Check"/>) and the Props of its agent.
/// </summary>
public sealed class BackendRegistryTests : TestKit
{
    private static readonly MirrorSettings Settings = MirrorSettings.Read(FabricConfig.LoadFromText([("test.conf", "")]));

    public static TheoryData<MirrorBackendKind> Kinds() => [.. Enum.GetValues<MirrorBackendKind>()];

    [Fact]
    public void Every_kind_has_exactly_one_backend_in_its_own_folder()
    {
        Assert.Equal(Enum.GetValues<MirrorBackendKind>().Order(), MirrorBackends.All.Select(b => b.Kind).Order());
        Assert.Equal(MirrorBackends.All.Length, MirrorBackends.All.Select(b => b.Name).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(MirrorBackends.All.Length, MirrorBackends.All.Select(b => b.GetType().Namespace).Distinct(StringComparer.Ordinal).Count());
        foreach (var backend in MirrorBackends.All)
        {
            Assert.Equal(backend.Kind.ToString().ToLowerInvariant(), backend.Name);
            Assert.StartsWith("Fabric.Actors.Mirrors.", backend.GetType().Namespace, StringComparison.Ordinal);
            Assert.Same(backend, MirrorBackends.Of(backend.Kind));
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_backend_key_is_listed_and_refused_on_a_site_of_another_backend(MirrorBackendKind kind)
    {
        var backend = MirrorBackends.Of(kind);
        Assert.All(backend.SiteKeys, key => Assert.Contains(key, MirrorBackends.SiteKeys));
        var refused = 0;
        foreach (var other in MirrorBackends.All.Where(o => o != backend))
        {
            foreach (var key in backend.SiteKeys.Where(k => !other.SiteKeys.Contains(k)))
            {
                var ex = Assert.Throws<FabricConfigException>(() => MirrorSettings.Read(FabricConfig.LoadFromText(
                    [("test.conf", $"fabric.sites = [ {{ name = s, backend = {other.Name}, {key} = \"x\" }} ]")])));
                var owner = MirrorBackends.All.First(b => b.SiteKeys.Contains(key));
                Assert.Equal($"fabric.sites[0].{key}: {owner.ForeignKeyProblem(other.Name)}", ex.Message);
                refused++;
            }
        }

        Assert.Equal(backend.SiteKeys.IsEmpty, refused == 0);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_backend_checks_its_sessions_through_the_model(MirrorBackendKind kind)
    {
        var backend = MirrorBackends.Of(kind);
        var broken = new MirrorSessionSpec("m", "s", kind, "br0", [""], MirrorDirection.Both, "", null, true);
        var problem = backend.Check(broken);
        Assert.NotNull(problem);
        Assert.Equal("sources[0]", problem.Value.Key);
        Assert.Equal(problem, broken.Check());

        var bridgeless = broken with { Bridge = "" };
        Assert.Equal(backend.NeedsBridge ? ("bridge", $"missing (required for backend {backend.Name})") : problem, bridgeless.Check());
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_backend_gives_the_props_of_an_agent_speaking_the_shared_protocol(MirrorBackendKind kind)
    {
        var site = new MirrorSiteSettings("s", kind, null, TimeSpan.FromSeconds(30));
        var props = MirrorBackends.Of(kind).AgentProps(site, Settings, CreateTestProbe().Ref, null);
        Assert.True(props.Type.IsSubclassOf(typeof(MirrorAgent)), $"{kind}: {props.Type} is not a {nameof(MirrorAgent)}");
        Assert.Equal(props.Type, SiteAgents.Props(site, Settings, CreateTestProbe().Ref, null).Type);
    }
}
