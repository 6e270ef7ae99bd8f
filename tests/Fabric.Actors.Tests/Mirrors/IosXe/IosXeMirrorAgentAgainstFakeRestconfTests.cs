using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Mirrors.Backends;
using Fabric.Actors.Mirrors.IosXe;
using Fabric.Actors.Tests.Mirrors.Fakes;
using Xunit;
using Fabric.Actors.Mirrors.Registry;

namespace Fabric.Actors.Tests.Mirrors.IosXe;

/// <summary>
/// The iosxe agent (PollingMirrorAgent + IosXeBackend + RestconfClient, over HTTPS with a pinned
/// certificate) against an in-process FAKE RESTCONF server, not a router. Issue 6 must-show 4.
/// </summary>
public sealed class IosXeMirrorAgentAgainstFakeRestconfTests : TestKit, IAsyncLifetime
{
    private const string Password = "s3cr3t-Pa55word-xyzzy";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly string _dir = Directory.CreateTempSubdirectory("fs-iosxe-").FullName;
    private readonly List<string> _logs = [];
    private FakeRestconfRouter _router = null!;

    public IosXeMirrorAgentAgainstFakeRestconfTests()
        : base("akka.loglevel = DEBUG")
    {
        Sys.ActorOf(Props.Create(() => new LogCollector(_logs)), "log-collector");
    }

    public async Task InitializeAsync() => _router = await FakeRestconfRouter.StartAsync("fabric", Password);

    public async Task DisposeAsync()
    {
        await _router.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private MirrorSiteSettings Site(string? fingerprint = null)
    {
        var secret = Path.Combine(_dir, "password");
        File.WriteAllText(secret, Password + "\n");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return new MirrorSiteSettings(
            "csr-a",
            MirrorBackendKind.Iosxe,
            new IosXeSiteSettings(new MirrorApiSettings(_router.Server.Url, "fabric", secret, null, fingerprint ?? _router.Server.Fingerprint)),
            TimeSpan.FromMilliseconds(200));
    }

    private static MirrorSettings Settings => new()
    {
        Sites = [],
        Backends = MirrorBackends.Set,
        Mirrors = [],
        ReconnectMinBackoff = TimeSpan.FromMilliseconds(50),
        ReconnectMaxBackoff = TimeSpan.FromMilliseconds(500),
        ReportInterval = TimeSpan.FromMinutes(1),
    };

    private static MirrorSessionSpec Uplink(string name = "csr-uplink", int number = 1) => new(
        name, "csr-a", MirrorBackendKind.Iosxe, "", ["GigabitEthernet1", "GigabitEthernet2"], MirrorDirection.Both, "10.0.0.5", null, true,
        new MirrorBackendOptions(SessionNumber: number, ErspanId: 100, OriginIp: "10.0.0.1", Mtu: 1464));

    private IActorRef StartAgent(MirrorSiteSettings site, params MirrorSessionSpec[] sessions)
    {
        var agent = Sys.ActorOf(PollingMirrorAgent.Props(site, Settings, CreateTestProbe().Ref, null, () => IosXePlugin.Backend(site)));
        agent.Tell(new AssignSessions("csr-a", 1, [.. sessions]));
        return agent;
    }

    private static AgentState StateOf(IActorRef agent) => agent.Ask<AgentState>(GetAgentState.Instance, Wait).GetAwaiter().GetResult();

    private void AwaitStatus(IActorRef agent, string name, MirrorHealth health) =>
        AwaitAssert(() => Assert.Equal(health, StateOf(agent).Statuses.Single(s => s.Name == name).Health), Wait, TimeSpan.FromMilliseconds(50));

    private void AwaitRepair(IActorRef agent, string containing) =>
        AwaitAssert(() => Assert.Contains(StateOf(agent).RecentRepairs, r => r.Missing.Contains(containing, StringComparison.Ordinal) && r.Error is null), Wait, TimeSpan.FromMilliseconds(50));

    private void AwaitRouter(Func<JsonObject?, bool> condition, string what) =>
        AwaitAssert(() => Assert.True(condition(_router.ErspanSource(1)), what + ": " + _router.ErspanSource(1)?.ToJsonString()), Wait, TimeSpan.FromMilliseconds(50));

    private static bool IsDesired(JsonObject? erspan) =>
        erspan is not null
        && erspan["description"]?.GetValue<string>() == "fabric-session=csr-uplink"
        && !erspan.ContainsKey("shutdown")
        && erspan["destination"]?["ip"]?["address"]?.GetValue<string>() == "10.0.0.5"
        && erspan["destination"]?["origin"]?["ip"]?["address"]?.GetValue<string>() == "10.0.0.1"
        && erspan["destination"]?["erspan-id"]?.GetValue<int>() == 100
        && erspan["destination"]?["mtu"]?.GetValue<int>() == 1464
        && erspan["source"]?["interface"]?.AsArray().Select(i => i!["name"]!.GetValue<string>() + " " + i["direction"]!.GetValue<string>()).SequenceEqual(["GigabitEthernet1 both", "GigabitEthernet2 both"]) == true;

    [Fact]
    public void Session_is_created_then_recreated_after_it_was_deleted_on_the_router()
    {
        var agent = StartAgent(Site(), Uplink());
        AwaitRouter(IsDesired, "session 1 created as desired");
        AwaitStatus(agent, "csr-uplink", MirrorHealth.Healthy);

        _router.Delete(1);
        AwaitRouter(IsDesired, "session 1 recreated");
        AwaitRepair(agent, "monitor session 1 missing");
        AwaitStatus(agent, "csr-uplink", MirrorHealth.Healthy);
    }

    [Fact]
    public void Shut_down_session_is_brought_back_up()
    {
        var agent = StartAgent(Site(), Uplink());
        AwaitRouter(IsDesired, "session 1 created");
        _router.Shutdown(1);
        Assert.True(_router.ErspanSource(1)!.ContainsKey("shutdown"));

        AwaitRouter(e => IsDesired(e), "shutdown removed");
        AwaitRepair(agent, "shut down");
    }

    [Fact]
    public void Drifted_destination_is_corrected()
    {
        var agent = StartAgent(Site(), Uplink());
        AwaitRouter(IsDesired, "session 1 created");
        _router.SetDestination(1, "192.0.2.99");

        AwaitRouter(IsDesired, "destination back to 10.0.0.5");
        AwaitRepair(agent, "destination ip 192.0.2.99 (want 10.0.0.5)");
    }

    [Fact]
    public void Session_of_that_number_not_made_by_Fabric_is_left_alone_and_degraded()
    {
        var theirs = new JsonObject { ["description"] = "noc capture", ["destination"] = new JsonObject { ["ip"] = new JsonObject { ["address"] = "198.51.100.7" } } };
        _router.Configure(1, theirs);
        var agent = StartAgent(Site(), Uplink());

        AwaitStatus(agent, "csr-uplink", MirrorHealth.Degraded);
        Assert.Contains("not created by Fabric", StateOf(agent).Statuses.Single().Reason, StringComparison.Ordinal);
        Assert.Equal(theirs.ToJsonString(), _router.ErspanSource(1)!.ToJsonString());
        Assert.DoesNotContain(_router.Requests, r => r.StartsWith("PUT", StringComparison.Ordinal) || r.StartsWith("DELETE", StringComparison.Ordinal));
    }

    [Fact]
    public void Refused_change_is_the_sessions_failed_status_with_the_routers_message()
    {
        _router.RefusePuts = "inconsistent value: origin ip address not configured";
        var agent = StartAgent(Site(), Uplink());

        AwaitStatus(agent, "csr-uplink", MirrorHealth.Failed);
        var reason = StateOf(agent).Statuses.Single().Reason!;
        Assert.Contains("400", reason, StringComparison.Ordinal);
        Assert.Contains("origin ip address not configured", reason, StringComparison.Ordinal);

        _router.RefusePuts = null;
        AwaitStatus(agent, "csr-uplink", MirrorHealth.Healthy);
        Assert.True(IsDesired(_router.ErspanSource(1)));
    }

    [Fact]
    public void Session_removed_from_Fabric_is_deleted_from_the_router_and_others_kept()
    {
        _router.Configure(7, new JsonObject { ["description"] = "noc capture" });
        var agent = StartAgent(Site(), Uplink(), Uplink("second", 2));
        AwaitAssert(() => Assert.True(_router.Has(1) && _router.Has(2)), Wait, TimeSpan.FromMilliseconds(50));

        agent.Tell(new AssignSessions("csr-a", 2, [Uplink()]));
        AwaitAssert(() => Assert.False(_router.Has(2)), Wait, TimeSpan.FromMilliseconds(50));
        Assert.True(_router.Has(1));
        Assert.True(_router.Has(7));
    }

    [Fact]
    public void Certificate_not_matching_the_pinned_fingerprint_is_refused_and_sessions_are_unknown()
    {
        var agent = StartAgent(Site(fingerprint: new string('A', 64)), Uplink());

        AwaitStatus(agent, "csr-uplink", MirrorHealth.Unknown);
        Assert.StartsWith("site unreachable: RESTCONF", StateOf(agent).Statuses.Single().Reason, StringComparison.Ordinal);
        Assert.False(_router.Has(1));
        Assert.Empty(_router.Requests);
    }

    [Fact]
    public void Rotated_password_is_read_again_from_its_file_without_a_restart()
    {
        var site = Site();
        var agent = StartAgent(site, Uplink());
        AwaitRouter(IsDesired, "created");

        _router.Password = "rotated-Pa55-2";
        _router.Delete(1);
        AwaitStatus(agent, "csr-uplink", MirrorHealth.Failed);
        File.WriteAllText(site.Own<IosXeSiteSettings>().Api.SecretFile, "rotated-Pa55-2\n");

        AwaitRouter(IsDesired, "recreated with the rotated password");
        AwaitStatus(agent, "csr-uplink", MirrorHealth.Healthy);
    }

    [Fact]
    public void Password_appears_neither_in_logs_nor_in_statuses_nor_in_repairs()
    {
        var site = Site();
        var agent = StartAgent(site, Uplink());
        AwaitRouter(IsDesired, "created");
        _router.Delete(1);
        AwaitRepair(agent, "missing");
        File.WriteAllText(site.Own<IosXeSiteSettings>().Api.SecretFile, "wrong-password");
        Sys.Stop(agent);
        var second = StartAgent(site, Uplink());
        AwaitStatus(second, "csr-uplink", MirrorHealth.Failed);

        var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes("fabric:" + Password));
        var state = StateOf(second);
        string[] logs;
        lock (_logs)
        {
            logs = [.. _logs];
        }

        var everything = string.Join("\n", logs.Concat(state.Statuses.Select(s => s.Describe())).Concat(state.RecentRepairs.Select(r => r.ToString())));
        Assert.Contains("401", everything, StringComparison.Ordinal);
        Assert.NotEmpty(logs);
        Assert.DoesNotContain(Password, everything, StringComparison.Ordinal);
        Assert.DoesNotContain(basic, everything, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-password", everything, StringComparison.Ordinal);
    }

    private sealed class LogCollector : ReceiveActor
    {
        public LogCollector(List<string> sink)
        {
            Context.System.EventStream.Subscribe(Self, typeof(LogEvent));
            Receive<LogEvent>(e =>
            {
                lock (sink)
                {
                    sink.Add(e.ToString() ?? "");
                }
            });
        }
    }
}
