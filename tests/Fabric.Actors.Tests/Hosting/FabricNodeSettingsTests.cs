using Akka.Configuration;
using Fabric.Configuration;
using Fabric.Actors.Hosting;
using Fabric.Actors.Persistence;
using Xunit;

namespace Fabric.Actors.Tests.Hosting;

public sealed class FabricNodeSettingsTests
{
    private static FabricNodeSettings Read(string hocon) =>
        FabricNodeSettings.Read(ConfigurationFactory.ParseString(hocon).WithFallback(FabricConfig.Reference));

    [Fact]
    public void Defaults_are_a_one_node_sqlite_cluster_on_loopback()
    {
        var settings = Read("fabric.data-dir = /tmp/fo-x");

        Assert.Equal("127.0.0.1", settings.ManagementHost);
        Assert.Equal(8558, settings.ManagementPort);
        Assert.Null(settings.ManagementToken);
        Assert.Empty(settings.Roles);
        Assert.False(settings.UsesDiscovery);
        Assert.Equal(PersistenceProvider.Sqlite, settings.Persistence);
        Assert.Equal("/tmp/fo-x/fabric.db", settings.SqliteFile);
        Assert.Equal("Data Source=/tmp/fo-x/fabric.db", settings.ConnectionString);
        Assert.Equal(4053, settings.RemotePort);
    }

    [Fact]
    public void Site_roles_are_known_when_the_site_is_declared()
    {
        var settings = Read("""
            fabric.sites = [ { name = pve-a, backend = ovs } ]
            akka.cluster.roles = [capture, supervisor, site-pve-a]
            """);

        Assert.Equal(["capture", "site-pve-a", "supervisor"], settings.Roles.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Site_role_without_its_site_is_refused_with_the_role_path()
    {
        var e = Assert.Throws<FabricConfigException>(() => Read("""
            fabric.sites = [ { name = pve-a, backend = ovs } ]
            akka.cluster.roles = [capture, site-pve-b]
            """));

        Assert.Equal("akka.cluster.roles[1]", e.Path);
        Assert.Contains("known: capture, supervisor, site-pve-a", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Token_file_wins_over_token_and_is_trimmed()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "  from-file\n");

            var settings = Read($"fabric.management {{ token = inline, token-file = \"{file}\" }}");

            Assert.Equal("from-file", settings.ManagementToken);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Unreadable_token_file_names_the_key()
    {
        var e = Assert.Throws<FabricConfigException>(() => Read("fabric.management.token-file = /nonexistent/fo-token"));

        Assert.Equal("fabric.management.token-file", e.Path);
    }

    [Fact]
    public void Postgres_connection_string_errors_never_quote_the_password()
    {
        var e = Assert.Throws<FabricConfigException>(() => Read("""
            fabric.persistence { provider = postgresql, postgresql.connection-string = "Host=db;Password=hunter2;Bogus Key=1" }
            """));

        Assert.Equal("fabric.persistence.postgresql.connection-string", e.Path);
        Assert.DoesNotContain("hunter2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Postgres_sessions_get_an_idle_in_transaction_timeout_unless_the_connection_string_sets_one()
    {
        var settings = Read("""
            fabric.persistence { provider = postgresql, postgresql.connection-string = "Host=db;Username=fabric;Password=pw" }
            """);
        var own = FabricNodeSettings.WithIdleInTransactionTimeout("Host=db;Options='-c idle_in_transaction_session_timeout=900'", TimeSpan.FromSeconds(5));
        var off = FabricNodeSettings.WithIdleInTransactionTimeout("Host=db", TimeSpan.Zero);

        var options = new Npgsql.NpgsqlConnectionStringBuilder(settings.ConnectionString).Options;
        Assert.Equal("-c idle_in_transaction_session_timeout=5000", options);
        Assert.Equal("pw", new Npgsql.NpgsqlConnectionStringBuilder(settings.ConnectionString).Password);
        Assert.Equal("-c idle_in_transaction_session_timeout=900", new Npgsql.NpgsqlConnectionStringBuilder(own).Options);
        Assert.Equal("Host=db", off);
    }

    [Fact]
    public void Config_discovery_endpoints_must_be_host_and_port()
    {
        var e = Assert.Throws<FabricConfigException>(() => Read("""
            fabric.cluster.discovery.method = config
            akka.discovery.config.services.fabric.endpoints = ["127.0.0.1:8558", "127.0.0.1"]
            """));

        Assert.Equal("akka.discovery.config.services.fabric.endpoints[1]", e.Path);
    }

    [Fact]
    public void Remote_port_0_is_refused()
    {
        var e = Assert.Throws<FabricConfigException>(() => Read("akka.remote.dot-netty.tcp.port = 0"));

        Assert.Equal("akka.remote.dot-netty.tcp.port", e.Path);
    }

    [Fact]
    public void Akka_config_carries_bootstrap_persistence_and_serialization()
    {
        var loaded = ConfigurationFactory.ParseString("""
            fabric.data-dir = /tmp/fo-y
            fabric.cluster.discovery { method = config, required-contact-points = 3 }
            akka.discovery.config.services.fabric.endpoints = ["127.0.0.1:8558"]
            """).WithFallback(FabricConfig.Reference);
        var settings = FabricNodeSettings.Read(loaded);

        var config = FabricAkkaConfig.Build(settings, loaded);

        Assert.Equal(3, config.GetInt("akka.management.cluster.bootstrap.contact-point-discovery.required-contact-point-nr"));
        Assert.Equal("config", config.GetString("akka.discovery.method"));
        Assert.False(config.GetBoolean("akka.management.cluster.bootstrap.contact-point.filter-on-fallback-port"));
        Assert.Equal("SQLite.MS", config.GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Equal("Data Source=/tmp/fo-y/fabric.db", config.GetString("akka.persistence.snapshot-store.sql.connection-string"));
        Assert.Equal(FabricPersistence.JournalPluginId, config.GetString("akka.persistence.journal.plugin"));
        Assert.Equal("keep-majority", config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Equal(TimeSpan.FromSeconds(3), config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.Equal("hyperion", config.GetString("akka.actor.serialization-bindings.\"Fabric.Actors.IFabricMessage, Fabric.Actors\""));
    }
}
