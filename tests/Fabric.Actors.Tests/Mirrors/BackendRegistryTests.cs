using Akka.TestKit.Xunit2;
using Fabric.Configuration;
using Fabric.Actors.Mirrors;
using Xunit;
using Fabric.Actors.Mirrors.Registry;

namespace Fabric.Actors.Tests.Mirrors;

/// <summary>
/// Every backend is one folder behind <see cref="IMirrorBackendPlugin"/>, registered once in
/// <see cref="MirrorBackends"/>: each exposes its site keys (refused on a site of another backend,
/// listed in the unknown-key message), its session checks (reached through
/// <see cref="MirrorSessionSpec.Check"/>) and the Props of its agent.
/// </summary>
public sealed class BackendRegistryTests : TestKit
{
    private static readonly MirrorSettings Settings = MirrorBackends.ReadSettings(FabricConfig.LoadFromText([("test.conf", "")]));

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
                var ex = Assert.Throws<FabricConfigException>(() => MirrorBackends.ReadSettings(FabricConfig.LoadFromText(
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
        Assert.Equal(problem, broken.Check(MirrorBackends.Set));

        var bridgeless = broken with { Bridge = "" };
        Assert.Equal(backend.NeedsBridge ? ("bridge", $"missing (required for backend {backend.Name})") : problem, bridgeless.Check(MirrorBackends.Set));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_backend_gives_the_props_of_an_agent_speaking_the_shared_protocol(MirrorBackendKind kind)
    {
        var site = new MirrorSiteSettings("s", kind, null, TimeSpan.FromSeconds(30));
        var props = MirrorBackends.Of(kind).AgentProps(site, Settings, CreateTestProbe().Ref, null);
        Assert.True(props.Type.IsSubclassOf(typeof(MirrorAgent)), $"{kind}: {props.Type} is not a {nameof(MirrorAgent)}");
        Assert.Equal(props.Type, MirrorBackends.Set.AgentProps(site, Settings, CreateTestProbe().Ref, null).Type);
    }

    /// <summary>A valid site of each kind (its own keys); a new backend adds its line here.</summary>
    private static string SiteKeysOf(MirrorBackendKind kind, string secretFile) => kind switch
    {
        MirrorBackendKind.Ovs => "ovsdb = \"tcp:127.0.0.1:6640\"",
        MirrorBackendKind.Tc => "",
        MirrorBackendKind.Iosxe => $"url = \"https://10.0.0.1\", user = fabric, secret-file = \"{secretFile}\"",
        MirrorBackendKind.Proxmox => $"url = \"https://10.0.0.2:8006\", user = \"fabric@pve!mirrors\", secret-file = \"{secretFile}\", nodes {{ pve1 = \"tcp:10.0.0.3:6640\" }}",
        MirrorBackendKind.Aws => "region = eu-west-1",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "add a valid site of this backend to BackendRegistryTests.SiteKeysOf"),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_backend_reads_its_site_into_its_own_record_and_describes_it_without_secrets(MirrorBackendKind kind)
    {
        var secret = Path.Combine(Path.GetTempPath(), $"fabric-registry-{Guid.NewGuid():N}.secret");
        File.WriteAllText(secret, "s3cret-Value\n");
        try
        {
            File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var backend = MirrorBackends.Of(kind);
            var keys = SiteKeysOf(kind, secret);
            var site = MirrorBackends.ReadSettings(FabricConfig.LoadFromText(
                [("test.conf", $"fabric.sites = [ {{ name = s, backend = {backend.Name}{(keys.Length == 0 ? "" : ", " + keys)} }} ]")])).Site("s")!;

            Assert.Equal(kind, site.Backend);
            Assert.Equal(backend.SiteKeys.IsEmpty, site.BackendSettings is null);
            if (site.BackendSettings is { } own)
            {
                // The backend's record is its own (its folder) or shared by several backends (Mirrors.Backends): never the root's.
                Assert.Contains(own.GetType().Namespace, new[] { backend.GetType().Namespace, "Fabric.Actors.Mirrors.Backends" });
            }

            var described = backend.Describe(site);
            Assert.NotEmpty(described);
            Assert.DoesNotContain(described.Values, v => v.Contains("s3cret", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(secret);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Each_backend_session_key_is_a_journaled_option_and_listed_for_mirrors(MirrorBackendKind kind)
    {
        var backend = MirrorBackends.Of(kind);
        var fields = typeof(MirrorBackendOptions).GetProperties().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var key in backend.SessionKeys)
        {
            Assert.Contains(string.Concat(key.Split('-').Select(w => char.ToUpperInvariant(w[0]) + w[1..])), fields);
            Assert.Contains(key, MirrorBackends.Set.SessionKeys);
            Assert.DoesNotContain(key, MirrorBackendSet.CommonSessionKeys);
        }

        var ex = Assert.Throws<FabricConfigException>(() => MirrorBackends.ReadSettings(FabricConfig.LoadFromText(
            [("test.conf", "fabric.mirrors = [ { name = m, site = s, no-such-option = 1 } ]")])));
        Assert.All(backend.SessionKeys, key => Assert.Contains(key, ex.Message, StringComparison.Ordinal));
    }
}
