using Akka.Configuration;
using Fabric.Actors.Persistence;

namespace Fabric.Actors.Hosting;

/// <summary>
/// Builds the Akka.Persistence.Sql configuration from <see cref="FabricNodeSettings"/>. In Hosting,
/// beside the node settings it reads: Persistence (the node history, the journal failures) sits below.
/// </summary>
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
                  # Akka's default opens the breaker for 30 s after 10 failures: a database back
                  # after an outage would stay unused that long. The mirror supervisor backs off
                  # itself (fabric.mirror-supervisor.journal-*-backoff); see docs/reliability-database.md.
                  circuit-breaker { max-failures = 10, call-timeout = 10s, reset-timeout = 2s }
                }
              }
              snapshot-store {
                plugin = "{{FabricPersistence.SnapshotPluginId}}"
                sql {
                  connection-string = {{connection}}
                  provider-name = "{{provider}}"
                  table-mapping = {{mapping}}
                  auto-initialize = on
                  # (default: open for 60 s after 5 failures; recovery reads the snapshot first)
                  circuit-breaker { max-failures = 5, call-timeout = 20s, reset-timeout = 2s }
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
