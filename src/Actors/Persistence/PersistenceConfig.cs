using Akka.Configuration;
using Fabric.Actors.Hosting;

namespace Fabric.Actors.Persistence;

/// <summary>Builds the Akka.Persistence.Sql configuration from <see cref="FabricNodeSettings"/>.</summary>
public static class PersistenceConfig
{
    /// <summary>Linq2db provider names Akka.Persistence.Sql uses.</summary>
    public static string ProviderName(PersistenceProvider provider) => provider switch
    {
        PersistenceProvider.Sqlite => "SQLite.MS",
        PersistenceProvider.Postgresql => "PostgreSQL.15",
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, null),
    };

    /// <summary>The journal, snapshot store and query plugin configuration (put <c>SqlPersistence.DefaultConfiguration</c> below it).</summary>
    public static Config Build(FabricNodeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var connection = HoconQuote(settings.ConnectionString);
        var provider = ProviderName(settings.Persistence);
        var mapping = settings.Persistence == PersistenceProvider.Sqlite ? "sqlite" : "postgresql";
        var config = ConfigurationFactory.ParseString($$"""
            akka.persistence {
              journal {
                plugin = "{{FabricPersistence.JournalPluginId}}"
                sql {
                  connection-string = {{connection}}
                  provider-name = "{{provider}}"
                  table-mapping = {{mapping}}
                  auto-initialize = on
                }
              }
              snapshot-store {
                plugin = "{{FabricPersistence.SnapshotPluginId}}"
                sql {
                  connection-string = {{connection}}
                  provider-name = "{{provider}}"
                  table-mapping = {{mapping}}
                  auto-initialize = on
                }
              }
              query.journal.sql {
                connection-string = {{connection}}
                provider-name = "{{provider}}"
                table-mapping = {{mapping}}
              }
            }
            """);
        return config;
    }

    /// <summary>A HOCON double-quoted string.</summary>
    public static string HoconQuote(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }
}
