using System.Globalization;
using Akka.Configuration;
using Akka.Management.Cluster.Bootstrap;
using Akka.Persistence.Sql;
using Fabric.Actors.Serialization;

namespace Fabric.Actors.Hosting;

/// <summary>The ActorSystem configuration of a fabric-node, derived from the loaded configuration and its settings.</summary>
public static class FabricAkkaConfig
{
    /// <summary>The ActorSystem name every node uses (addresses are <c>akka.tcp://fabric@host:port</c>, <c>akka.ssl.tcp://…</c> with fabric.remote.tls).</summary>
    public const string SystemName = "fabric";

    /// <summary>
    /// Layers, highest first: serialization bindings (not overridable), keys derived from
    /// <c>fabric.*</c> (management, bootstrap, persistence, remoting TLS), the loaded configuration, then the
    /// defaults of Akka.Persistence.Sql and Akka.Management. Akka's own defaults lie below all.
    /// </summary>
    public static Config Build(FabricNodeSettings settings, Config loaded)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(loaded);
        var method = settings.DiscoveryMethod == FabricNodeSettings.NoDiscovery ? "config" : settings.DiscoveryMethod;
        var derived = ConfigurationFactory.ParseString($$"""
            akka.management {
              http {
                hostname = {{PersistenceConfig.HoconQuote(settings.ManagementHost)}}
                port = {{settings.ManagementPort}}
              }
              cluster.bootstrap {
                contact-point-discovery {
                  service-name = {{PersistenceConfig.HoconQuote(settings.ServiceName)}}
                  discovery-method = {{PersistenceConfig.HoconQuote(method)}}
                  required-contact-point-nr = {{settings.RequiredContactPoints}}
                  stable-margin = {{Ms(settings.StableMargin)}}
                  interval = {{Ms(settings.DiscoveryInterval)}}
                }
                contact-point {
                  fallback-port = {{settings.ManagementPort}}
                  # Several nodes may share a host (different ports): probe every endpoint.
                  filter-on-fallback-port = false
                  probe-interval = {{Ms(settings.DiscoveryInterval)}}
                }
              }
            }
            akka.discovery.method = {{PersistenceConfig.HoconQuote(method)}}
            """);
        if (settings.RemoteTls is not null)
        {
            derived = ConfigurationFactory.ParseString(RemoteTlsSettings.AkkaHocon).WithFallback(derived);
        }

        return FabricSerialization.Config
            .WithFallback(derived)
            .WithFallback(PersistenceConfig.Build(settings))
            .WithFallback(loaded)
            .WithFallback(SqlPersistence.DefaultConfiguration)
            .WithFallback(ClusterBootstrap.DefaultConfiguration());
    }

    private static string Ms(TimeSpan value) =>
        ((long)value.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";
}
