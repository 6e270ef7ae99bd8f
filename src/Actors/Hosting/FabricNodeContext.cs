using Akka.Actor;
using Akka.Configuration;
using Microsoft.Extensions.Logging;

namespace Fabric.Actors.Hosting;

/// <summary>What a started <see cref="IFabricFeature"/> gets: the running ActorSystem and the node's settings.</summary>
public sealed class FabricNodeContext
{
    public FabricNodeContext(ActorSystem system, FabricStartupInfo startup, ILoggerFactory loggerFactory)
    {
        System = system ?? throw new ArgumentNullException(nameof(system));
        Startup = startup ?? throw new ArgumentNullException(nameof(startup));
        LoggerFactory = loggerFactory ?? throw new ArgumentNullException(nameof(loggerFactory));
    }

    /// <summary>The node's ActorSystem (cluster provider, already a member or joining).</summary>
    public ActorSystem System { get; }

    /// <summary>Configuration, roles and data directory.</summary>
    public FabricStartupInfo Startup { get; }

    /// <summary>The full configuration.</summary>
    public Config Config => Startup.Config;

    /// <summary>This node's roles.</summary>
    public IReadOnlySet<string> Roles => Startup.Roles;

    /// <summary>Absolute <c>fabric.data-dir</c>.</summary>
    public string DataDirectory => Startup.DataDirectory;

    /// <summary>Host logging, for code outside actors (actors use <c>Context.GetLogger()</c>).</summary>
    public ILoggerFactory LoggerFactory { get; }
}
