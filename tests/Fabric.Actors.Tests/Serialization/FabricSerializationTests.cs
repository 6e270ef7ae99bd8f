using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Fabric.Actors.Serialization;
using Xunit;

namespace Fabric.Actors.Tests.Serialization;

public sealed record Echo(string Text, ImmutableList<int> Numbers, IActorRef ReplyTo) : IFabricMessage;

public sealed record Echoed(string Text, ImmutableList<int> Numbers) : IFabricMessage;

public sealed record Marker(int Sequence) : IFabricMessage;

/// <summary>A Fabric message that smuggles an arbitrary object: its field's runtime type decides.</summary>
public sealed record Smuggle(object Payload) : IFabricMessage;

/// <summary>Not a Fabric message.</summary>
public sealed record NotAFabricMessage(string Text);

/// <summary>
/// Two (three) ActorSystems in this process talking over Akka.Remote on loopback: the Fabric
/// serialization (Hyperion for IFabricMessage, allow-listed by name without versions) between
/// them. The "attacker" system uses plain Hyperion for everything, as a hostile peer could.
/// </summary>
public sealed class FabricSerializationTests : Akka.TestKit.Xunit2.TestKit
{
    private static Config RemoteConfig(Config serialization) =>
        ConfigurationFactory.ParseString("""
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
            akka.loglevel = WARNING
            """).WithFallback(serialization);

    private static readonly Config PlainHyperionEverywhere = ConfigurationFactory.ParseString("""
        akka.actor {
          serializers.hyperion = "Akka.Serialization.HyperionSerializer, Akka.Serialization.Hyperion"
          serialization-bindings { "System.Object" = hyperion }
        }
        """);

    private readonly ActorSystem _sender;
    private readonly ActorSystem _attacker;
    private readonly TestProbe _received;
    private readonly ActorPath _target;

    public FabricSerializationTests()
        : base(RemoteConfig(FabricSerialization.Config), "receiver")
    {
        _sender = ActorSystem.Create("sender", RemoteConfig(FabricSerialization.Config));
        _attacker = ActorSystem.Create("attacker", RemoteConfig(PlainHyperionEverywhere));
        _received = CreateTestProbe();
        var received = _received.Ref;
        Sys.ActorOf(Props.Create(() => new ForwardingActor(received)), "target");
        var address = ((ExtendedActorSystem)Sys).Provider.DefaultAddress;
        _target = new RootActorPath(address) / "user" / "target";
    }

    protected override void AfterAll()
    {
        Shutdown(_sender);
        Shutdown(_attacker);
        base.AfterAll();
    }

    [Fact]
    public void Allowed_message_round_trips_between_nodes()
    {
        var replies = new TestProbe(_sender, new Akka.TestKit.Xunit2.XunitAssertions());
        var echo = new Echo("hello", [1, 2, 3], replies.Ref);

        _sender.ActorSelection(_target).Tell(echo);

        var got = _received.ExpectMsg<Echo>(TimeSpan.FromSeconds(10));
        Assert.Equal("hello", got.Text);
        Assert.Equal([1, 2, 3], got.Numbers);
        var reply = replies.ExpectMsg<Echoed>(TimeSpan.FromSeconds(10));
        Assert.Equal("hello", reply.Text);
        Assert.Equal([1, 2, 3], reply.Numbers);
    }

    [Fact]
    public void Message_not_implementing_the_marker_is_refused_by_the_sender()
    {
        var selection = _sender.ActorSelection(_target);

        selection.Tell(new NotAFabricMessage("should never arrive"));
        selection.Tell(new Marker(1));

        // Messages between one pair of actors keep their order: the marker arriving first means
        // the refused message was never delivered.
        var first = _received.ExpectMsg<object>(TimeSpan.FromSeconds(10));
        Assert.Equal(new Marker(1), first);
    }

    [Fact]
    public void Type_outside_the_allow_list_from_a_hostile_peer_is_refused_by_the_receiver()
    {
        var selection = _attacker.ActorSelection(_target);

        selection.Tell(new NotAFabricMessage("plain hyperion, not a Fabric type"));
        selection.Tell(new Smuggle(new System.Collections.ArrayList { "x" }));
        selection.Tell(new Marker(2));

        var first = _received.ExpectMsg<object>(TimeSpan.FromSeconds(10));
        Assert.Equal(new Marker(2), first);
    }

    [Fact]
    public void Allowed_message_from_a_plain_hyperion_peer_is_accepted()
    {
        _attacker.ActorSelection(_target).Tell(new Smuggle(ImmutableList.Create("a", "b")));

        var got = _received.ExpectMsg<Smuggle>(TimeSpan.FromSeconds(10));
        Assert.Equal(["a", "b"], (ImmutableList<string>)got.Payload);
    }

    [Fact]
    public void Mirror_path_messages_round_trip_between_nodes()
    {
        var held = new Fabric.Actors.Mirrors.MirrorBackendSession("web-tier", "tms-01", "eni-01", "i-01", "web-1", 10, 4242, "tmt-01", "ENI eni-09 (sensor)");
        var view = new Fabric.Actors.Pipelines.PipelineVniView("aws-mirror", "running", ["tap-mon0"], 9,
            new Fabric.Actors.Decap.VniStats([new Fabric.Actors.Decap.VniCount(4242, 5, 500, true)], 1, 100, 64, [4242]));
        var selection = _sender.ActorSelection(_target);

        selection.Tell(new Fabric.Actors.Mirrors.AgentReport("aws-prod", 3, true, null, [], [], [held]));
        selection.Tell(new Fabric.Actors.Pipelines.PipelineVniReply([view]));

        Assert.Equal([held], _received.ExpectMsg<Fabric.Actors.Mirrors.AgentReport>(TimeSpan.FromSeconds(10)).BackendSessions.ToArray());
        var got = Assert.Single(_received.ExpectMsg<Fabric.Actors.Pipelines.PipelineVniReply>(TimeSpan.FromSeconds(10)).Pipelines);
        Assert.Equal((view.Name, view.State, view.Delivered), (got.Name, got.State, got.Delivered));
        Assert.Equal(["tap-mon0"], got.Sinks.ToArray());
        Assert.Equal([new Fabric.Actors.Decap.VniCount(4242, 5, 500, true)], got.Vnis!.Vnis.ToArray());
        Assert.Equal((1L, 100L, 64), (got.Vnis.OtherPackets, got.Vnis.OtherBytes, got.Vnis.Tracked));
        Assert.Equal([4242], got.Vnis.Allowed.ToArray());
    }

    private sealed class ForwardingActor : ReceiveActor
    {
        public ForwardingActor(IActorRef probe)
        {
            ReceiveAny(message =>
            {
                probe.Forward(message);
                if (message is Echo echo)
                {
                    echo.ReplyTo.Tell(new Echoed(echo.Text, echo.Numbers));
                }
            });
        }
    }
}

public sealed class FabricTypeFilterTests
{
    private readonly FabricTypeFilter _filter = new(["System.Uri"]);

    [Theory]
    [InlineData("Fabric.Actors.Tests.Serialization.Marker, Fabric.Actors.Tests, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null")]
    [InlineData("Fabric.Actors.Tests.Serialization.Marker, Fabric.Actors.Tests, Version=9.9.9.9, Culture=neutral, PublicKeyToken=null")]
    [InlineData("Fabric.Actors.Tests.Serialization.Marker, Fabric.Actors.Tests")]
    [InlineData("System.Collections.Immutable.ImmutableList`1[[System.String, System.Private.CoreLib, Version=10.0.0.0, Culture=neutral, PublicKeyToken=7cec85d7bea7798e]], System.Collections.Immutable, Version=10.0.0.0, Culture=neutral, PublicKeyToken=b03f5f7f11d50a3a")]
    [InlineData("System.Collections.Generic.Dictionary`2[[System.String, mscorlib],[Fabric.Actors.Tests.Serialization.Marker, Fabric.Actors.Tests, Version=1.0.0.0]], System.Private.CoreLib, Version=4.0.0.0")]
    [InlineData("System.Int32[], System.Private.CoreLib, Version=10.0.0.0, Culture=neutral, PublicKeyToken=7cec85d7bea7798e")]
    [InlineData("System.Uri, System.Private.Uri, Version=10.0.0.0")]
    [InlineData("System.Collections.Immutable.ImmutableList`1[[System.Int32, System.Private.CoreLib,%core%]], System.Collections.Immutable")]
    public void Allows_listed_types_whatever_their_version(string name)
    {
        Assert.True(_filter.IsAllowed(name));
    }

    [Theory]
    [InlineData("Fabric.Actors.Tests.Serialization.NotAFabricMessage, Fabric.Actors.Tests, Version=1.0.0.0")]
    [InlineData("System.Collections.ArrayList, System.Private.CoreLib, Version=10.0.0.0")]
    [InlineData("System.Collections.Generic.List`1[[System.Collections.ArrayList, System.Private.CoreLib]], System.Private.CoreLib")]
    [InlineData("System.IO.FileInfo, System.Private.CoreLib, Version=10.0.0.0")]
    [InlineData("Fabric.Actors.Tests.Serialization.Marker, Evil.Assembly, Version=1.0.0.0")]
    [InlineData("Fabric.Actors.Tests.Serialization.Marker[[, Fabric.Actors.Tests")]
    [InlineData("")]
    public void Refuses_everything_else(string name)
    {
        Assert.False(_filter.IsAllowed(name));
    }
}
