using Akka.Actor;
using Akka.Configuration;
using System.Runtime.Serialization;
using Akka.Serialization;
using Fabric.Configuration;

namespace Fabric.Actors.Serialization;

/// <summary>
/// Hyperion restricted to Fabric's allow-list (<see cref="FabricTypeFilter"/>) with Hyperion's
/// unsafe-type deny list on. Bound to <see cref="IFabricMessage"/> only
/// (<see cref="FabricSerialization.Config"/>).
/// </summary>
public sealed class FabricHyperionSerializer : HyperionSerializer
{
    public FabricHyperionSerializer(ExtendedActorSystem system)
        : base(system, CreateSettings(system))
    {
    }

    /// <summary>The constructor Akka calls for a configured serializer; the settings come from the system's config.</summary>
    public FabricHyperionSerializer(ExtendedActorSystem system, Config config)
        : base(system, CreateSettings(system))
    {
        ArgumentNullException.ThrowIfNull(config);
    }

    /// <summary>Hyperion's id: payloads from nodes using the plain Hyperion serializer use the same id.</summary>
    public override int Identifier => -5;

    /// <summary>The settings: Akka's hyperion settings plus the Fabric type filter.</summary>
    internal static HyperionSerializerSettings CreateSettings(ExtendedActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        var config = system.Settings.Config;
        var extra = config.HasPath("fabric.serialization.allowed-types")
            ? ConfigReader.At(config, "fabric.serialization").GetStringList("allowed-types")
            : [];
        var defaults = HyperionSerializerSettings.Default;
        return new HyperionSerializerSettings(
            preserveObjectReferences: defaults.PreserveObjectReferences,
            versionTolerance: defaults.VersionTolerance,
            knownTypesProvider: defaults.KnownTypesProvider,
            packageNameOverrides: defaults.PackageNameOverrides,
            surrogates: defaults.Surrogates,
            disallowUnsafeType: true,
            typeFilter: new FabricTypeFilter(extra));
    }
}

/// <summary>
/// Bound to <c>System.Object</c> and registered under Akka's <c>json</c> name: any message that
/// is neither one of Akka's own (which have their own serializers) nor an
/// <see cref="IFabricMessage"/> is refused when sent, and a payload that claims the JSON
/// serializer is refused when received.
/// </summary>
public sealed class RefusingSerializer : Serializer
{
    public RefusingSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    /// <summary>The constructor Akka calls for a configured serializer; it has no settings.</summary>
    public RefusingSerializer(ExtendedActorSystem system, Config config)
        : base(system)
    {
        ArgumentNullException.ThrowIfNull(config);
    }

    /// <summary>The id of Akka's Newtonsoft JSON serializer, so that payloads tagged with it are refused too.</summary>
    public override int Identifier => 1;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) =>
        throw new SerializationException(
            $"refused to serialize {obj?.GetType().FullName ?? "null"}: only messages implementing {typeof(IFabricMessage).FullName} are sent between nodes");

    public override object FromBinary(byte[] bytes, Type type) =>
        throw new SerializationException(
            $"refused to deserialize a payload for {type?.FullName ?? "an unknown type"}: only messages implementing {typeof(IFabricMessage).FullName} are accepted");
}

/// <summary>The serialization configuration fabric-node layers over Akka's defaults.</summary>
public static class FabricSerialization
{
    /// <summary>Akka serialization bindings: Hyperion (allow-listed) for <see cref="IFabricMessage"/>, everything else refused.</summary>
    public static Config Config { get; } = ConfigurationFactory.ParseString($$"""
        akka.actor {
          serializers {
            hyperion = "{{typeof(FabricHyperionSerializer).AssemblyQualifiedName}}"
            json = "{{typeof(RefusingSerializer).AssemblyQualifiedName}}"
          }
          serialization-bindings {
            "System.Object" = json
            "{{typeof(IFabricMessage).FullName}}, {{typeof(IFabricMessage).Assembly.GetName().Name}}" = hyperion
          }
        }
        """);
}
