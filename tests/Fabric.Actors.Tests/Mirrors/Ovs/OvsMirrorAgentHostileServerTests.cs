using System.Text;
using Akka.Actor;
using Akka.Event;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Mirrors.Ovs;
using Fabric.Protocols.Tests.Ovsdb;
using Xunit;
using Fabric.Actors.Mirrors.Registry;
using Fabric.Actors.Mirrors.Backends;

namespace Fabric.Actors.Tests.Mirrors.Ovs;

/// <summary>
/// Issue 8 scenario 7 at agent level: the OVS agent against an in-process FAKE OVSDB server (not
/// ovsdb-server) that floods 3000 updates and then a wrongly typed one (a set holding null). The agent is never restarted (no
/// error logged), logs the dropped connection once, reconnects and is connected again with the
/// server's fresh contents.
/// </summary>
public sealed class OvsMirrorAgentHostileServerTests : TestKit
{
    private const string Schema = """
        {"name":"Open_vSwitch","version":"8.8.0","tables":{
          "Bridge":{"columns":{"name":{"type":"string"},"ports":{"type":{"key":{"type":"uuid"},"min":0,"max":"unlimited"}},"mirrors":{"type":{"key":{"type":"uuid"},"min":0,"max":"unlimited"}}}},
          "Port":{"columns":{"name":{"type":"string"},"interfaces":{"type":{"key":{"type":"uuid"},"min":1,"max":"unlimited"}}}},
          "Interface":{"columns":{"name":{"type":"string"},"error":{"type":{"key":"string","min":0,"max":1}},"ofport":{"type":{"key":"integer","min":0,"max":1}}}},
          "Mirror":{"columns":{"name":{"type":"string"}}}}}
        """;

    public OvsMirrorAgentHostileServerTests()
        : base("akka.loglevel = INFO")
    {
    }

    [Fact]
    public async Task Flood_then_garbage_drops_the_connection_once_and_the_agent_reconnects_without_restarting()
    {
        var flood = new StringBuilder();
        for (var i = 0; i < 3000; i++)
        {
            flood.Append("""{"id":null,"method":"update2","params":["fabric",{"Port":{"00000000-0000-0000-0000-@ID":{"insert":{"name":"p@N","interfaces":["set",[]]}}}}]}"""
                .Replace("@ID", i.ToString("x12", System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("@N", i.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        }

        await using var server = new HostileOvsdbServer(async (peer, index) =>
        {
            await peer.HandshakeAsync("{}", Schema);
            if (index == 0)
            {
                await peer.SendAsync(flood.ToString());
                // A set holding null: before the update2 shape check, this threw in the agent and restarted it.
                await peer.SendAsync("""{"id":null,"method":"update2","params":["fabric",{"Port":{"00000000-0000-0000-0000-000000000001":{"modify":{"interfaces":["set",[null]]}}}}]}""");
            }

            await peer.HoldAsync();
        });
        var logs = CreateTestProbe();
        var errors = CreateTestProbe();
        Sys.EventStream.Subscribe(logs.Ref, typeof(Warning));
        Sys.EventStream.Subscribe(errors.Ref, typeof(Error));
        var site = new MirrorSiteSettings("lab", MirrorBackendKind.Ovs, new OvsdbSiteSettings(server.Endpoint), TimeSpan.FromMinutes(5));
        var settings = new MirrorSettings
        {
            Sites = [],
            Backends = MirrorBackends.Set,
            Mirrors = [],
            ReconnectMinBackoff = TimeSpan.FromMilliseconds(50),
            ReconnectMaxBackoff = TimeSpan.FromMilliseconds(500),
            ReportInterval = TimeSpan.FromMinutes(1),
        };

        var agent = Sys.ActorOf(OvsMirrorAgent.Props(site, settings, CreateTestProbe().Ref));
        agent.Tell(new AssignSessions("lab", 1, []));

        var down = logs.FishForMessage<Warning>(w => w.Message.ToString()!.Contains("OVSDB connection down", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        Assert.Contains("protocol error: update2: table \"Port\" row \"00000000-0000-0000-0000-000000000001\" column \"interfaces\": expected an atom", down.Message.ToString(), StringComparison.Ordinal);
        await AwaitAssertAsync(async () =>
        {
            Assert.True(server.Accepted >= 2, "no second connection");
            var state = await agent.Ask<AgentState>(GetAgentState.Instance, TimeSpan.FromSeconds(3));
            Assert.True(state.Connected, state.ConnectionProblem);
        }, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(100));

        // One drop, no restart: nothing at error level, no second "connection down".
        var failures = errors.ReceiveWhile(TimeSpan.FromMilliseconds(200), m => m as Error).OfType<Error>().ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures.Select(e => e.ToString())));
        var later = logs.ReceiveWhile(TimeSpan.FromMilliseconds(200), m => m as Warning).OfType<Warning>().ToList();
        Assert.DoesNotContain(later, e => e.Message.ToString()!.Contains("OVSDB connection down", StringComparison.Ordinal));
        Assert.Equal(2, server.Accepted);
    }
}
