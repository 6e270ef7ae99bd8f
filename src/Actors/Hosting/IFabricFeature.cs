using Akka.Configuration;

namespace Fabric.Actors.Hosting;

/// <summary>
/// Something fabric-node starts when its roles and configuration ask for it (the data plane's
/// pipelines on role <c>capture</c>, the mirror supervisor on role <c>supervisor</c>, ...).
/// Implementations are public, non-abstract classes with a parameterless constructor in a
/// <c>Fabric.*</c> assembly; <see cref="FabricFeatures.Discover"/> finds them by reflection.
/// </summary>
/// <remarks>
/// Order at start: every feature's <see cref="Validate"/> runs before anything is started (a bad
/// value exits 2 with nothing half-started); then the ActorSystem starts and joins the cluster;
/// then, for each feature whose <see cref="ShouldStart"/> is true, <see cref="StartAsync"/>.
/// </remarks>
public interface IFabricFeature
{
    /// <summary>A short kebab-case name for logs, e.g. <c>pipelines</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Reads and checks this feature's configuration without side effects; throws
    /// <see cref="Configuration.FabricConfigException"/> naming the HOCON path.
    /// Runs before the ActorSystem exists, for every feature, whatever the roles.
    /// </summary>
    void Validate(FabricStartupInfo startup);

    /// <summary>True when this node should run the feature (usually: it has a role).</summary>
    bool ShouldStart(FabricStartupInfo startup);

    /// <summary>Starts the feature's actors. Called once, after the node joined the cluster.</summary>
    Task StartAsync(FabricNodeContext context, CancellationToken cancellationToken);
}

/// <summary>What is known before anything starts: the loaded configuration and its node settings.</summary>
/// <param name="Config">The full configuration (reference under the operator's files).</param>
/// <param name="Roles">This node's cluster roles (<c>akka.cluster.roles</c>), already validated.</param>
/// <param name="DataDirectory">Absolute <c>fabric.data-dir</c>.</param>
public sealed record FabricStartupInfo(Config Config, IReadOnlySet<string> Roles, string DataDirectory)
{
    /// <summary>True when this node has <paramref name="role"/>.</summary>
    public bool HasRole(string role) => Roles.Contains(role);
}
