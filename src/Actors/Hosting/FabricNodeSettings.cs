using System.Collections.Immutable;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using Fabric.Configuration;

namespace Fabric.Actors.Hosting;

/// <summary>Which database holds the journal and snapshots.</summary>
public enum PersistenceProvider
{
    Sqlite,
    Postgresql,
}

/// <summary>
/// fabric-node's own settings (data directory, management HTTP, roles, remoting, discovery,
/// persistence), read and validated from the loaded configuration before anything starts.
/// Every problem is a <see cref="FabricConfigException"/> naming the HOCON path.
/// </summary>
public sealed class FabricNodeSettings
{
    /// <summary>Roles every node may have; <c>site-&lt;name&gt;</c> roles come from <c>fabric.sites</c>.</summary>
    public static readonly ImmutableArray<string> FixedRoles = ["capture", "supervisor"];

    /// <summary>The discovery method that means "no discovery: form a one-node cluster".</summary>
    public const string NoDiscovery = "none";

    private FabricNodeSettings()
    {
    }

    public required string DataDirectory { get; init; }

    public required string ManagementHost { get; init; }

    public required int ManagementPort { get; init; }

    /// <summary>The management bearer token, or null when none is configured. Never logged.</summary>
    public required string? ManagementToken { get; init; }

    /// <summary>The certificate (with key) management HTTP serves HTTPS with; null: plain HTTP.</summary>
    public required X509Certificate2? ManagementCertificate { get; init; }

    /// <summary>http or https, as <see cref="ManagementCertificate"/> says.</summary>
    public string ManagementScheme => ManagementCertificate is null ? "http" : "https";

    /// <summary><c>fabric.remote.tls</c>; null when remoting is plain TCP.</summary>
    public required RemoteTlsSettings? RemoteTls { get; init; }

    public required IReadOnlySet<string> Roles { get; init; }

    public required string RemoteHost { get; init; }

    public required int RemotePort { get; init; }

    /// <summary><c>akka.cluster.seed-nodes</c>; when set, Akka joins them and discovery is not used.</summary>
    public required IReadOnlyList<string> SeedNodes { get; init; }

    public required string DiscoveryMethod { get; init; }

    public required string ServiceName { get; init; }

    public required int RequiredContactPoints { get; init; }

    public required TimeSpan StableMargin { get; init; }

    public required TimeSpan DiscoveryInterval { get; init; }

    public required PersistenceProvider Persistence { get; init; }

    /// <summary>The SQLite file (absolute) when <see cref="Persistence"/> is SQLite.</summary>
    public required string SqliteFile { get; init; }

    /// <summary>The database connection string. Contains the password for PostgreSQL: never log it.</summary>
    public required string ConnectionString { get; init; }

    public required TimeSpan WarmUpTimeout { get; init; }

    /// <summary>True when this node bootstraps through discovery (not alone, not with seed nodes).</summary>
    public bool UsesDiscovery => SeedNodes.Count == 0 && DiscoveryMethod != NoDiscovery;

    /// <summary>The startup information given to features.</summary>
    public FabricStartupInfo ToStartupInfo(Config config) => new(config, Roles, DataDirectory);

    /// <summary>Reads and validates every node setting. Reads token and connection-string files; writes nothing.</summary>
    public static FabricNodeSettings Read(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var fabric = ConfigReader.At(config, "fabric");

        var dataDir = fabric.GetString("data-dir", allowEmpty: false);
        string dataDirectory;
        try
        {
            dataDirectory = Path.GetFullPath(dataDir);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw fabric.Problem("data-dir", $"not a usable path: \"{dataDir}\"");
        }

        var management = fabric.GetObject("management");
        var http = management.GetObject("http");
        var managementHost = ReadHost(http, "host");
        var managementPort = http.GetInt("port", 1, 65535);
        var token = ReadSecret(management, "token", "token-file");
        if (token is null && !IsLoopback(managementHost))
        {
            throw management.Problem("token", $"required because fabric.management.http.host ({managementHost}) is not a loopback address: set fabric.management.token or fabric.management.token-file, or listen on 127.0.0.1");
        }

        var httpTls = http.GetObject("tls");
        var managementCertificate = httpTls.GetString("certificate-file").Length > 0 ? TlsCertificateFiles.LoadWithKey(httpTls) : null;
        var remoteTls = RemoteTlsSettings.Read(fabric);

        var roles = ReadRoles(config);

        var remote = ConfigReader.At(config, "akka.remote.dot-netty.tcp");
        var remoteHost = remote.GetString("hostname", allowEmpty: false);
        var remotePort = remote.GetInt("port", 0, 65535);
        if (remotePort == 0)
        {
            throw remote.Problem("port", "must be a fixed port 1-65535 (other nodes and restarts need a stable address)");
        }

        var seedNodes = ConfigReader.At(config, "akka.cluster").GetStringList("seed-nodes");
        ValidateClusterTuning(config);

        var discovery = fabric.GetObject("cluster").GetObject("discovery");
        var method = discovery.GetString("method", allowEmpty: false);
        var serviceName = discovery.GetString("service-name", allowEmpty: false);
        var requiredContactPoints = discovery.GetInt("required-contact-points", 1, 100);
        var stableMargin = discovery.GetDuration("stable-margin", TimeSpan.Zero, TimeSpan.FromMinutes(10));
        var interval = discovery.GetDuration("interval", TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        ValidateDiscovery(config, discovery, method, serviceName);

        var persistence = fabric.GetObject("persistence");
        var provider = persistence.GetEnum<PersistenceProvider>("provider");
        var sqliteFileName = persistence.GetObject("sqlite").GetString("file", allowEmpty: false);
        var sqliteFile = Path.Combine(dataDirectory, sqliteFileName);
        string connectionString;
        if (provider == PersistenceProvider.Postgresql)
        {
            var postgres = persistence.GetObject("postgresql");
            connectionString = ReadSecret(postgres, "connection-string", "connection-string-file")
                ?? throw postgres.Problem("connection-string", "required when fabric.persistence.provider = postgresql (or set connection-string-file)");
            ValidatePostgres(postgres, connectionString);
            connectionString = WithIdleInTransactionTimeout(
                connectionString, postgres.GetDuration("idle-in-transaction-timeout", TimeSpan.Zero, TimeSpan.FromHours(1)));
        }
        else
        {
            if (sqliteFileName.IndexOfAny(['/', '\\']) >= 0)
            {
                throw persistence.GetObject("sqlite").Problem("file", $"a file name inside fabric.data-dir, got \"{sqliteFileName}\"");
            }

            connectionString = $"Data Source={sqliteFile}";
        }

        var warmUp = persistence.GetDuration("warm-up-timeout", TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(30));
        // Checked here so a bad list fails at start; FabricHyperionSerializer reads it.
        _ = fabric.GetObject("serialization").GetStringList("allowed-types");

        return new FabricNodeSettings
        {
            DataDirectory = dataDirectory,
            ManagementHost = managementHost,
            ManagementPort = managementPort,
            ManagementToken = token,
            ManagementCertificate = managementCertificate,
            RemoteTls = remoteTls,
            Roles = roles,
            RemoteHost = remoteHost,
            RemotePort = remotePort,
            SeedNodes = seedNodes,
            DiscoveryMethod = method,
            ServiceName = serviceName,
            RequiredContactPoints = requiredContactPoints,
            StableMargin = stableMargin,
            DiscoveryInterval = interval,
            Persistence = provider,
            SqliteFile = sqliteFile,
            ConnectionString = connectionString,
            WarmUpTimeout = warmUp,
        };
    }

    /// <summary>The site names declared in <c>fabric.sites[].name</c> (only the names are read here).</summary>
    public static IReadOnlyList<string> SiteNames(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var fabric = ConfigReader.At(config, "fabric");
        if (!fabric.Has("sites"))
        {
            return [];
        }

        return fabric.GetObjectList("sites").Select(site => site.GetString("name", allowEmpty: false)).ToList();
    }

    private static ImmutableSortedSet<string> ReadRoles(Config config)
    {
        var sites = SiteNames(config);
        var cluster = ConfigReader.At(config, "akka.cluster");
        var roles = cluster.GetStringList("roles");
        for (var i = 0; i < roles.Count; i++)
        {
            var role = roles[i];
            var known = FixedRoles.Contains(role)
                || (role.StartsWith("site-", StringComparison.Ordinal) && sites.Contains(role["site-".Length..]));
            if (!known)
            {
                var allowed = string.Join(", ", FixedRoles.Concat(sites.Select(s => "site-" + s)));
                throw new FabricConfigException($"akka.cluster.roles[{i}]", $"unknown role \"{role}\" (known: {allowed}; site-<name> needs fabric.sites[].name = <name>)");
            }
        }

        return roles.ToImmutableSortedSet(StringComparer.Ordinal);
    }

    private static readonly string[] SbrStrategies = ["keep-majority", "static-quorum", "keep-oldest", "down-all", "lease-majority"];

    private static void ValidateClusterTuning(Config config)
    {
        var detector = ConfigReader.At(config, "akka.cluster.failure-detector");
        var heartbeat = detector.GetDuration("heartbeat-interval", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1));
        var pause = detector.GetDuration("acceptable-heartbeat-pause", TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10));
        if (pause < heartbeat)
        {
            throw detector.Problem("acceptable-heartbeat-pause", "must not be shorter than heartbeat-interval");
        }

        var sbr = ConfigReader.At(config, "akka.cluster.split-brain-resolver");
        var strategy = sbr.GetString("active-strategy");
        if (Array.IndexOf(SbrStrategies, strategy) < 0)
        {
            throw sbr.Problem("active-strategy", $"expected one of {string.Join(", ", SbrStrategies)}, got \"{strategy}\"");
        }

        sbr.GetDuration("stable-after", TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1));
    }

    private static string ReadHost(ConfigReader reader, string key)
    {
        var host = reader.GetString(key, allowEmpty: false);
        if (!IPAddress.TryParse(host, out _) && Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            throw reader.Problem(key, $"expected an IP address or host name, got \"{host}\"");
        }

        return host;
    }

    /// <summary>True for loopback IP addresses and <c>localhost</c>; any other name may resolve to anything.</summary>
    public static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));

    private static string? ReadSecret(ConfigReader reader, string valueKey, string fileKey)
    {
        var file = reader.GetString(fileKey);
        if (file.Length > 0)
        {
            string text;
            try
            {
                text = File.ReadAllText(file).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw reader.Problem(fileKey, $"cannot read \"{file}\": {FabricConfig.OneLine(e.Message)}");
            }

            if (text.Length == 0)
            {
                throw reader.Problem(fileKey, $"\"{file}\" is empty");
            }

            // A secret file others can read (or write) is refused, like ssh and PostgreSQL refuse
            // their keys; group access is allowed (root:fabric 0640). docs/reliability-hostile.md.
            if (SecretFiles.Problem(file) is { } problem)
            {
                throw reader.Problem(fileKey, problem);
            }

            return text;
        }

        var value = reader.GetString(valueKey);
        return value.Length == 0 ? null : value;
    }

    private static void ValidateDiscovery(Config config, ConfigReader discovery, string method, string serviceName)
    {
        if (method == NoDiscovery)
        {
            return;
        }

        if (method == "config")
        {
            var path = $"akka.discovery.config.services.{serviceName}.endpoints";
            var endpoints = config.HasPath(path) ? ConfigReader.At(config, $"akka.discovery.config.services.{serviceName}").GetStringList("endpoints") : [];
            if (endpoints.Count == 0)
            {
                throw new FabricConfigException(path, "fabric.cluster.discovery.method = config needs the management endpoints (\"host:port\") of the nodes here");
            }

            for (var i = 0; i < endpoints.Count; i++)
            {
                var colon = endpoints[i].LastIndexOf(':');
                if (colon <= 0 || !int.TryParse(endpoints[i].AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
                {
                    throw new FabricConfigException($"{path}[{i}]", $"expected \"host:port\", got \"{endpoints[i]}\"");
                }
            }

            return;
        }

        if (!config.HasPath($"akka.discovery.{method}.class"))
        {
            throw discovery.Problem("method", $"unknown discovery method \"{method}\": use none, config, or an akka.discovery method with akka.discovery.{method}.class configured (see docs/configuration-node.md)");
        }
    }

    /// <summary>
    /// Adds <c>-c idle_in_transaction_session_timeout=&lt;ms&gt;</c> to the connection's Options
    /// (0: unchanged; an Options value that already sets it wins). A node cut off by a network
    /// partition in the middle of a journal write leaves its transaction open on the server, with the
    /// row lock on the next sequence number; the supervisor that takes over on the majority side then
    /// blocks on that lock until its write times out and it stops. PostgreSQL ends such sessions after
    /// this timeout (docs/reliability-partition.md).
    /// </summary>
    public static string WithIdleInTransactionTimeout(string connectionString, TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero)
        {
            return connectionString;
        }

        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        if (builder.Options?.Contains("idle_in_transaction_session_timeout", StringComparison.Ordinal) == true)
        {
            return connectionString;
        }

        builder.Options = $"{builder.Options} -c idle_in_transaction_session_timeout={(long)timeout.TotalMilliseconds}".Trim();
        return builder.ConnectionString;
    }

    private static void ValidatePostgres(ConfigReader postgres, string connectionString)
    {
        try
        {
            var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
            if (string.IsNullOrEmpty(builder.Host))
            {
                throw postgres.Problem("connection-string", "no Host= in the connection string");
            }
        }
        catch (ArgumentException)
        {
            // The message of this exception may quote the string (and its password): do not pass it on.
            throw postgres.Problem("connection-string", "not a valid Npgsql connection string");
        }
    }
}
