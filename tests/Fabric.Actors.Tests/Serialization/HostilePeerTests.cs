using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Serialization;
using Akka.TestKit;
using Fabric.Actors.Serialization;
using Xunit;

namespace Fabric.Actors.Tests.Serialization;

/// <summary>Counts the markers it accepted and remembers every other message: the "state" a hostile peer tries to change.</summary>
public sealed record Applied(int Sequence) : IFabricMessage;

public sealed class GetApplied : IFabricMessage
{
    public static readonly GetApplied Instance = new();
}

public sealed record AppliedState(IReadOnlyList<int> Sequences, IReadOnlyList<string> Others) : IFabricMessage;

/// <summary>
/// Issue 8 scenario 7, cluster side: hostile peers (ActorSystems in this process on loopback Akka
/// remoting) send the node's actors messages outside the allow-list: a plain object, a Fabric
/// message smuggling a non-allow-listed type, a dangerous BCL type Hyperion's deny list knows, a
/// payload tagged for the JSON serializer and one for a serializer id the node does not have. Each
/// is refused by the receiver's serializer and logged (a warning or error naming the refusal), the
/// association stays up (an allowed message sent afterwards on the same association arrives, in
/// order), the receiving system keeps running and the target's state is unchanged.
/// </summary>
public sealed class HostilePeerTests : Akka.TestKit.Xunit2.TestKit
{
    private static Config RemoteConfig(Config serialization) =>
        ConfigurationFactory.ParseString("""
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
            akka.loglevel = INFO
            """).WithFallback(serialization);

    /// <summary>
    /// The attacker sends Fabric messages with plain Hyperion (no allow-list) and everything else
    /// with <paramref name="serializerClass"/>.
    /// </summary>
    private static Config Attacker(string serializerClass, string name) => ConfigurationFactory.ParseString($$"""
        akka.actor {
          serializers.hyperion = "Akka.Serialization.HyperionSerializer, Akka.Serialization.Hyperion"
          serializers.{{name}} = "{{serializerClass}}"
          serialization-bindings {
            "System.Object" = {{name}}
            "{{typeof(IFabricMessage).FullName}}, {{typeof(IFabricMessage).Assembly.GetName().Name}}" = hyperion
          }
        }
        """);

    private readonly ActorPath _target;
    private readonly IActorRef _state;

    public HostilePeerTests()
        : base(RemoteConfig(FabricSerialization.Config), "node")
    {
        _state = Sys.ActorOf(Props.Create(() => new StatefulActor()), "target");
        _target = new RootActorPath(((ExtendedActorSystem)Sys).Provider.DefaultAddress) / "user" / "target";
    }

    public static TheoryData<string, string, string> Attackers => new()
    {
        { "plain Hyperion", "Akka.Serialization.HyperionSerializer, Akka.Serialization.Hyperion", "hyperion" },
        { "Newtonsoft JSON (serializer id 1)", "Akka.Serialization.NewtonSoftJsonSerializer, Akka", "json" },
        { "a serializer id the node lacks", typeof(UnknownIdSerializer).AssemblyQualifiedName!, "odd" },
    };

    [Theory]
    [MemberData(nameof(Attackers))]
    public async Task Messages_outside_the_allow_list_are_refused_logged_and_change_nothing(string what, string serializerClass, string name)
    {
        var logs = CreateTestProbe();
        Sys.EventStream.Subscribe(logs.Ref, typeof(Warning));
        Sys.EventStream.Subscribe(logs.Ref, typeof(Error));
        var attacker = ActorSystem.Create("attacker", RemoteConfig(Attacker(serializerClass, name)));
        try
        {
            var selection = attacker.ActorSelection(_target);
            object[] hostile =
            [
                new NotAFabricMessage("plain object"),
                new Smuggle(new System.Collections.ArrayList { "x" }),
                new Smuggle(new FileInfo("/etc/passwd")),
                new Smuggle(new Uri("http://127.0.0.1/")),
            ];

            // An allowed message first proves the association works; the hostile ones follow;
            // a second allowed message proves the association is still the same one.
            selection.Tell(new Applied(1));
            foreach (var message in hostile)
            {
                selection.Tell(message);
            }

            selection.Tell(new Applied(2));

            await AwaitAssertAsync(async () =>
            {
                var applied = await _state.Ask<AppliedState>(GetApplied.Instance, TimeSpan.FromSeconds(3));
                Assert.Equal([1, 2], applied.Sequences);
            }, TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(100));

            var state = await _state.Ask<AppliedState>(GetApplied.Instance, TimeSpan.FromSeconds(3));
            Assert.Empty(state.Others);
            Assert.False(Sys.WhenTerminated.IsCompleted, what);

            // Each refusal was logged once by the receiver's remoting, as a warning that keeps the association.
            var refusals = logs.ReceiveWhile(TimeSpan.FromSeconds(1), m => m as LogEvent, msgs: 100)
                .OfType<LogEvent>()
                .Where(e => e.Message.ToString()!.Contains("Deserialization failed", StringComparison.Ordinal))
                .ToList();
            Assert.Equal(hostile.Length, refusals.Count);
            Assert.All(refusals, e =>
            {
                Assert.Equal(LogLevel.WarningLevel, e.LogLevel());
                Assert.Contains("association remains live", e.Message.ToString(), StringComparison.Ordinal);
            });
        }
        finally
        {
            Shutdown(attacker);
        }
    }

    private sealed class StatefulActor : ReceiveActor
    {
        private readonly List<int> _sequences = [];
        private readonly List<string> _others = [];

        public StatefulActor()
        {
            Receive<Applied>(m => _sequences.Add(m.Sequence));
            Receive<GetApplied>(_ => Sender.Tell(new AppliedState([.. _sequences], [.. _others])));
            ReceiveAny(m => _others.Add(m.GetType().FullName ?? "?"));
        }
    }
}

/// <summary>An attacker's serializer with an id no Fabric node registers: plain Hyperion bytes under id 4711.</summary>
public sealed class UnknownIdSerializer : Serializer
{
    private readonly HyperionSerializer _inner;

    public UnknownIdSerializer(ExtendedActorSystem system)
        : base(system)
    {
        _inner = new HyperionSerializer(system);
    }

    public UnknownIdSerializer(ExtendedActorSystem system, Config config)
        : base(system)
    {
        _inner = new HyperionSerializer(system, config);
    }

    public override int Identifier => 4711;

    public override bool IncludeManifest => _inner.IncludeManifest;

    public override byte[] ToBinary(object obj) => _inner.ToBinary(obj);

    public override object FromBinary(byte[] bytes, Type type) => _inner.FromBinary(bytes, type);
}
