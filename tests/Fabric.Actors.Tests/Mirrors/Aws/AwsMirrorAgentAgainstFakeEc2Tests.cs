using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Mirrors.Aws;
using Fabric.Actors.Mirrors.Backends;
using Fabric.Actors.Tests.Mirrors.Fakes;
using Xunit;
using Fabric.Actors.Mirrors.Registry;

namespace Fabric.Actors.Tests.Mirrors.Aws;

/// <summary>
/// The aws agent (PollingMirrorAgent + AwsBackend + AWSSDK.EC2 with a ServiceURL, credentials from
/// the standard chain via environment variables with fake keys) against an in-process FAKE EC2
/// Query API, not AWS. Issue 6 must-show 1.
/// </summary>
public sealed class AwsMirrorAgentAgainstFakeEc2Tests : TestKit, IAsyncLifetime
{
    private const string AccessKey = "AKIAFAKEFABRIC000001";
    private const string Vpc = "vpc-0a1";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private FakeEc2Api _ec2 = null!;

    public AwsMirrorAgentAgainstFakeEc2Tests()
        : base("akka.loglevel = INFO")
    {
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", AccessKey);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", "fakeSecretKeyForFabricTestsOnly0000000000");
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
    }

    public async Task InitializeAsync() => _ec2 = await FakeEc2Api.StartAsync(AccessKey);

    public async Task DisposeAsync() => await _ec2.DisposeAsync();

    private MirrorSiteSettings Site => new("aws-prod", MirrorBackendKind.Aws, new AwsSiteSettings("eu-west-1", _ec2.Url), TimeSpan.FromMilliseconds(200));

    private static MirrorSettings Settings => new()
    {
        Sites = [],
        Backends = MirrorBackends.Set,
        Mirrors = [],
        ReconnectMinBackoff = TimeSpan.FromMilliseconds(50),
        ReconnectMaxBackoff = TimeSpan.FromMilliseconds(500),
        ReportInterval = TimeSpan.FromMinutes(1),
    };

    private static MirrorSessionSpec WebRule(string name = "web-tier") => new(
        name, "aws-prod", MirrorBackendKind.Aws, "", ["tag:Role=web", "vpc:" + Vpc], MirrorDirection.Both, "tmt-0123456789abcdef0", null, true,
        new MirrorBackendOptions(SessionNumber: 10, FilterId: "tmf-0123456789abcdef0", Vni: 4242, PacketLength: 128));

    private IActorRef StartAgent(params MirrorSessionSpec[] rules)
    {
        var site = Site;
        var agent = Sys.ActorOf(PollingMirrorAgent.Props(site, Settings, CreateTestProbe().Ref, null, () => AwsPlugin.Backend(site, TimeSpan.FromMilliseconds(100))));
        agent.Tell(new AssignSessions("aws-prod", 1, [.. rules]));
        return agent;
    }

    private static MirrorSessionStatus StatusOf(IActorRef agent, string name) =>
        agent.Ask<AgentState>(GetAgentState.Instance, Wait).GetAwaiter().GetResult().Statuses.Single(s => s.Name == name);

    private List<string> OurEnis(string rule = "web-tier") =>
        [.. _ec2.Sessions().Where(s => s.Tags.GetValueOrDefault("fabric-session") == rule).Select(s => s.Eni).Order(StringComparer.Ordinal)];

    private void AwaitOurEnis(params string[] enis) =>
        AwaitAssert(() => Assert.Equal(enis, OurEnis()), Wait, TimeSpan.FromMilliseconds(50));

    [Fact]
    public void Scale_out_creates_sessions_with_target_filter_and_vni_and_scale_in_cleans_them_up()
    {
        _ec2.AddEni("eni-01", Vpc, "subnet-01", ("Role", "web"));
        _ec2.AddEni("eni-02", Vpc, "subnet-02", ("Role", "web"));
        _ec2.AddEni("eni-03", Vpc, "subnet-01", ("Role", "db"));
        _ec2.AddEni("eni-04", "vpc-0b2", "subnet-09", ("Role", "web"));
        var foreign = _ec2.AddForeignSession("eni-02", 1);
        var agent = StartAgent(WebRule());

        AwaitOurEnis("eni-01", "eni-02");
        foreach (var s in _ec2.Sessions().Where(s => s.Id != foreign))
        {
            Assert.Equal(("tmt-0123456789abcdef0", "tmf-0123456789abcdef0", 4242, 128, 10), (s.Target, s.Filter, s.Vni!.Value, s.PacketLength!.Value, s.Number));
            Assert.Equal("aws-prod", s.Tags["fabric-site"]);
        }

        AwaitAssert(() => Assert.Equal("healthy (2 ENIs mirrored)", StatusOf(agent, "web-tier").Describe()), Wait);

        // Scale-out: a new instance's ENI with the tag.
        _ec2.AddEni("eni-05", Vpc, "subnet-02", ("Role", "web"));
        AwaitOurEnis("eni-01", "eni-02", "eni-05");

        // Scale-in: one instance terminated (its ENI and sessions vanish), one ENI re-tagged.
        _ec2.DeleteEni("eni-01");
        _ec2.Retag("eni-05", ("Role", "retired"));
        AwaitOurEnis("eni-02");
        AwaitAssert(() => Assert.Equal("healthy (1 ENIs mirrored)", StatusOf(agent, "web-tier").Describe()), Wait);
        Assert.Contains(_ec2.Sessions(), s => s.Id == foreign);
        Assert.True(_ec2.Count("DeleteTrafficMirrorSession", 200) >= 1);
    }

    [Fact]
    public void Fourth_session_on_one_ENI_is_refused_as_AWS_documents_and_the_rule_is_degraded()
    {
        _ec2.AddEni("eni-11", Vpc, "subnet-01", ("Role", "web"));
        _ec2.AddEni("eni-12", Vpc, "subnet-01", ("Role", "web"));
        foreach (var n in new[] { 1, 2, 3 })
        {
            _ec2.AddForeignSession("eni-11", n);
        }

        var agent = StartAgent(WebRule());

        AwaitOurEnis("eni-12");
        AwaitAssert(() => Assert.Equal(MirrorHealth.Degraded, StatusOf(agent, "web-tier").Health), Wait);
        var reason = StatusOf(agent, "web-tier").Reason!;
        Assert.StartsWith("1 of 2 ENIs mirrored; eni-11: ", reason, StringComparison.Ordinal);
        Assert.Contains("The allowed number of Traffic Mirror sessions for the specified network interface has been exceeded.", reason, StringComparison.Ordinal);
        Assert.Contains("TrafficMirrorSessionsPerInterfaceLimitExceeded", reason, StringComparison.Ordinal);
        Assert.Equal(3, _ec2.Sessions().Count(s => s.Eni == "eni-11"));
    }

    [Fact]
    public void Throttling_is_retried_with_growing_backoff()
    {
        _ec2.AddEni("eni-21", Vpc, "subnet-01", ("Role", "web"));
        _ec2.Throttle(4);
        var agent = StartAgent(WebRule());

        AwaitOurEnis("eni-21");
        AwaitAssert(() => Assert.Equal(MirrorHealth.Healthy, StatusOf(agent, "web-tier").Health), Wait);
        var log = _ec2.RequestLog();
        List<DateTime> attempts = [.. log.Take(5).Select(r => r.At)];
        Assert.Equal([503, 503, 503, 503, 200], log.Take(5).Select(r => r.Status));

        var gaps = attempts.Zip(attempts.Skip(1), (a, b) => (b - a).TotalMilliseconds).ToList();
        Assert.True(gaps[0] >= 45, $"first retry after {gaps[0]} ms (backoff 100 ms x [0.5, 1))");
        Assert.True(gaps[3] >= 380, $"fourth retry after {gaps[3]} ms (backoff 800 ms x [0.5, 1)); gaps {string.Join(", ", gaps)}");
    }

    [Fact]
    public void Restarted_or_overlapping_agents_create_no_duplicates()
    {
        _ec2.AddEni("eni-31", Vpc, "subnet-01", ("Role", "web"));
        _ec2.AddEni("eni-32", Vpc, "subnet-01", ("Role", "web"));
        var first = StartAgent(WebRule());
        AwaitOurEnis("eni-31", "eni-32");
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);

        // A restarted agent, and two agents at once (a singleton hand-over overlapping).
        var before = _ec2.Count("DescribeTrafficMirrorSessions", 200);
        var second = StartAgent(WebRule());
        var third = StartAgent(WebRule());
        AwaitAssert(() => Assert.True(_ec2.Count("DescribeTrafficMirrorSessions", 200) >= before + 6), Wait);
        AwaitAssert(() => Assert.Equal(MirrorHealth.Healthy, StatusOf(second, "web-tier").Health), Wait);
        AwaitAssert(() => Assert.Equal(MirrorHealth.Healthy, StatusOf(third, "web-tier").Health), Wait);

        Assert.Equal(["eni-31", "eni-32"], OurEnis());
        Assert.Equal(2, _ec2.Sessions().Count);
    }

    [Fact]
    public void Session_deleted_by_someone_is_recreated_although_its_client_token_is_taken()
    {
        _ec2.AddEni("eni-51", Vpc, "subnet-01", ("Role", "web"));
        var agent = StartAgent(WebRule());
        AwaitOurEnis("eni-51");
        var first = _ec2.Sessions().Single().Id;

        _ec2.DeleteSession(first);

        AwaitAssert(() => Assert.NotEqual(first, Assert.Single(_ec2.Sessions()).Id), Wait, TimeSpan.FromMilliseconds(50));
        AwaitOurEnis("eni-51");
        AwaitAssert(() => Assert.Equal("healthy (1 ENIs mirrored)", StatusOf(agent, "web-tier").Describe()), Wait);
    }

    [Fact]
    public void Rule_removed_deletes_only_the_sessions_Fabric_made_for_it()
    {
        _ec2.AddEni("eni-41", Vpc, "subnet-01", ("Role", "web"), ("Tier", "front"));
        var foreign = _ec2.AddForeignSession("eni-41", 1);
        var front = WebRule("front") with { Sources = ["tag:Tier=front"], Options = WebRule().Opts with { SessionNumber = 11 } };
        var agent = StartAgent(WebRule(), front);
        AwaitOurEnis("eni-41");
        AwaitAssert(() => Assert.Single(OurEnis("front")), Wait);

        agent.Tell(new AssignSessions("aws-prod", 2, [front]));
        AwaitOurEnis();
        Assert.Single(OurEnis("front"));
        Assert.Contains(_ec2.Sessions(), s => s.Id == foreign);
    }

    [Fact]
    public void Rule_without_vni_gets_a_VNI_per_session_from_the_fake_and_the_agent_reports_source_session_vni_and_target()
    {
        _ec2.AddTarget("tmt-0123456789abcdef0", "eni-0sensor", "sensor-1 ens5");
        _ec2.AddEni("eni-61", Vpc, "subnet-01", ("Role", "web"), ("Name", "web-1"));
        _ec2.AddEni("eni-62", Vpc, "subnet-02", ("Role", "web"));
        _ec2.Attach("eni-61", "i-0000000000000061");
        var rule = WebRule() with { Options = WebRule().Opts with { Vni = null, Pipeline = "aws-mirror" } };
        var agent = StartAgent(rule);

        AwaitOurEnis("eni-61", "eni-62");
        AwaitAssert(() => Assert.Equal(2, State(agent).BackendSessions.Length), Wait, TimeSpan.FromMilliseconds(50));
        var first = State(agent).BackendSessions;
        var fake = _ec2.Sessions().OrderBy(s => s.Eni, StringComparer.Ordinal).ToList();
        Assert.Equal(fake.Select(s => (s.Id, s.Eni, s.Vni)), first.Select(b => (b.Id, b.Source, b.Vni)));
        Assert.Equal(2, first.Select(b => b.Vni).Distinct().Count());
        Assert.All(first, b => Assert.Equal(("web-tier", 10, "tmt-0123456789abcdef0", "ENI eni-0sensor (sensor-1 ens5)"), (b.Rule, b.Number!.Value, b.Target, b.TargetDetail)));
        Assert.Equal(("i-0000000000000061", "web-1"), (first[0].InstanceId, first[0].SourceName));
        Assert.Equal(((string?)null, (string?)null), (first[1].InstanceId, first[1].SourceName));

        // Scale-out: the new ENI's session gets its own VNI; the existing sessions (and VNIs) stay.
        _ec2.AddEni("eni-63", Vpc, "subnet-02", ("Role", "web"));
        AwaitAssert(() => Assert.Equal(3, State(agent).BackendSessions.Length), Wait, TimeSpan.FromMilliseconds(50));
        var now = State(agent).BackendSessions;
        Assert.Equal(first.Select(b => (b.Id, b.Vni)), now.Take(2).Select(b => (b.Id, b.Vni)));
        Assert.Equal(3, now.Select(b => b.Vni).Distinct().Count());
        Assert.Equal(_ec2.Sessions().Single(s => s.Eni == "eni-63").Vni, now[2].Vni);
        Assert.Equal(3, _ec2.Count("CreateTrafficMirrorSession", 200));
    }

    private static AgentState State(IActorRef agent) => agent.Ask<AgentState>(GetAgentState.Instance, Wait).GetAwaiter().GetResult();
}
