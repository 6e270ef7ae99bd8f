using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Management.Cluster.Bootstrap;
using Akka.Management.Dsl;
using Fabric.Configuration;
using Fabric.Actors.Hosting;
using Fabric.Actors.Metrics;
using Fabric.Actors.Persistence;
using Fabric.Node.Management;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace Fabric.Node;

/// <summary>
/// fabric-node: reads and validates the whole configuration (exit 2 with one line naming the
/// HOCON path, nothing started), then starts the ActorSystem (remoting, cluster), the management
/// HTTP server (Kestrel), joins or forms the cluster (Cluster Bootstrap or JoinSelf), warms the
/// journal and starts the features of its roles. SIGTERM runs CoordinatedShutdown (leave the
/// cluster) and exits 0.
/// </summary>
public static class NodeProgram
{
    /// <summary>Exit code: the configuration (or the command line) is unusable; nothing was started.</summary>
    public const int ExitConfig = 2;

    /// <summary>Exit code: the node failed after it started (journal unreachable, downed by the cluster).</summary>
    public const int ExitFailed = 1;

    private const string Usage = "usage: fabric-node [--config FILE]... (later files win over earlier ones and over the embedded defaults)";

    /// <summary>Runs the node until it is stopped; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(error);

        var files = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--config" when i + 1 < args.Length:
                    files.Add(args[++i]);
                    break;
                case "--config":
                    await error.WriteLineAsync("fabric-node: --config needs a FILE. " + Usage).ConfigureAwait(false);
                    return ExitConfig;
                case "-h" or "--help":
                    Console.WriteLine(Usage);
                    return 0;
                default:
                    await error.WriteLineAsync($"fabric-node: unknown argument \"{args[i]}\". {Usage}").ConfigureAwait(false);
                    return ExitConfig;
            }
        }

        // 1. Everything that can be checked is checked before anything starts.
        Config akkaConfig;
        FabricNodeSettings settings;
        FabricStartupInfo startup;
        IReadOnlyList<IFabricFeature> features;
        try
        {
            var config = FabricConfig.Load(files);
            settings = FabricNodeSettings.Read(config);
            foreach (var warning in InlineSecrets.Warnings(files))
            {
                await error.WriteLineAsync("fabric-node: warning: " + warning).ConfigureAwait(false);
            }

            startup = settings.ToStartupInfo(config);
            features = FabricFeatures.Discover([typeof(IFabricFeature).Assembly, typeof(NodeProgram).Assembly, .. LoadedFabricAssemblies()]);
            foreach (var feature in features)
            {
                feature.Validate(startup);
            }

            akkaConfig = FabricAkkaConfig.Build(settings, config);
            CheckPortFree(settings.ManagementHost, settings.ManagementPort, "fabric.management.http.port");
            CheckPortFree(settings.RemoteHost, settings.RemotePort, "akka.remote.dot-netty.tcp.port");
            CreateDataDirectory(settings.DataDirectory);
        }
        catch (FabricConfigException e)
        {
            await error.WriteLineAsync("fabric-node: " + e.Message).ConfigureAwait(false);
            return ExitConfig;
        }

        // 2. Start: ActorSystem, then Kestrel; a failure here stops what was started.
        ActorSystem system;
        var tlsPeers = settings.RemoteTls is { } remoteTls ? new PeerCertificateValidator(remoteTls.Authorities, remoteTls.CaFile, remoteTls.Crl) : null;
        try
        {
            // With fabric.remote.tls the certificate and the CA check reach DotNetty as a setup.
            system = settings.RemoteTls is { } tls && tlsPeers is not null
                ? ActorSystem.Create(FabricAkkaConfig.SystemName, tls.ToSetup(akkaConfig, tlsPeers))
                : ActorSystem.Create(FabricAkkaConfig.SystemName, akkaConfig);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            await error.WriteLineAsync("fabric-node: cannot start the actor system: " + FabricConfig.OneLine(Innermost(e).Message)).ConfigureAwait(false);
            return ExitConfig;
        }

        var exit = new NodeExit();
        WebApplication app;
        try
        {
            app = BuildWebApplication(system, settings, startup, exit);
            await app.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await error.WriteLineAsync($"fabric-node: cannot serve management HTTP on {settings.ManagementHost}:{settings.ManagementPort} (fabric.management.http): {FabricConfig.OneLine(Innermost(e).Message)}").ConfigureAwait(false);
            return ExitConfig;
        }

        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Fabric.Node");
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        _ = system.WhenTerminated.ContinueWith(_ => lifetime.StopApplication(), TaskScheduler.Default);

        // 3. Join, warm the journal, start the features. If the actor system ends meanwhile (the node
        //    was asked to leave or was downed while starting), stop waiting for start-up and exit.
        var readiness = app.Services.GetRequiredService<NodeReadiness>();
        FabricMetrics.Get(system).Register(tlsPeers ?? new PeerCertificateValidator([], ""));
        var starting = StartUpAsync(system, settings, startup, features, app.Services, lifetime, log);
        if (await Task.WhenAny(starting, system.WhenTerminated).ConfigureAwait(false) == starting)
        {
            try
            {
                await starting.ConfigureAwait(false);
                readiness.MarkStarted();
                app.Services.GetRequiredService<SystemdReadyNotifier>().NodeStarted();
            }
            catch (Exception e) when (e is not OutOfMemoryException && !lifetime.ApplicationStopping.IsCancellationRequested)
            {
                await error.WriteLineAsync("fabric-node: " + FabricConfig.OneLine(Innermost(e).Message)).ConfigureAwait(false);
                exit.Fail();
                await app.StopAsync().ConfigureAwait(false);
                return ExitFailed;
            }
        }
        else
        {
            // The start-up steps ask actors of a stopped system: they end by timeout; observe that.
            _ = starting.ContinueWith(t => t.Exception, TaskScheduler.Default);
            log.LogWarning("The actor system stopped while the node was starting");
        }

        await app.WaitForShutdownAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        if (exit.ExitCode != 0)
        {
            await error.WriteLineAsync("fabric-node: " + exit.Reason).ConfigureAwait(false);
        }

        return exit.ExitCode;
    }

    private static WebApplication BuildWebApplication(ActorSystem system, FabricNodeSettings settings, FabricStartupInfo startup, NodeExit exit)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "fabric-node" });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.WebHost.UseKestrel(kestrel =>
        {
            // fabric.management.http.tls: HTTPS with the configured certificate, else plain HTTP.
            void Endpoint(ListenOptions listen)
            {
                if (settings.ManagementCertificate is { } certificate)
                {
                    listen.UseHttps(certificate);
                }
            }

            if (IPAddress.TryParse(settings.ManagementHost, out var ip))
            {
                kestrel.Listen(ip, settings.ManagementPort, Endpoint);
            }
            else if (string.Equals(settings.ManagementHost, "localhost", StringComparison.OrdinalIgnoreCase))
            {
                kestrel.ListenLocalhost(settings.ManagementPort, Endpoint);
            }
            else
            {
                kestrel.ListenAnyIP(settings.ManagementPort, Endpoint);
            }
        });
        // Under systemd (Type=notify): logs in the journal's format and tells systemd STOPPING=1;
        // READY=1 waits for the node to have started (SystemdReadyNotifier). Elsewhere nothing.
        builder.Host.UseSystemd();
        builder.Services.AddSingleton(new SystemdReadyNotifier(new SystemdNotifier()));
        builder.Services.AddSingleton<ISystemdNotifier>(s => s.GetRequiredService<SystemdReadyNotifier>());
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services.AddSingleton(system);
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(startup);
        builder.Services.AddSingleton(exit);
        builder.Services.AddSingleton(new NodeReadiness());
        builder.Services.AddSingleton(new ManagementToken(settings.ManagementToken));
        builder.Services.AddHostedService<ActorSystemShutdownService>();

        var app = builder.Build();
        ManagementGuard.Use(app); // body limit, content type, path length, JSON 404/405 (docs/reliability-hostile.md)
        ManagementRouteDiscovery.MapAll(app);
        return app;
    }

    private static async Task JoinAsync(ActorSystem system, FabricNodeSettings settings)
    {
        var cluster = Cluster.Get(system);
        var bootstrap = ClusterBootstrap.Get(system);
        // Akka.Management's own HTTP server is not used (Kestrel serves /bootstrap/seed-nodes):
        // this call tells Cluster Bootstrap its own contact point.
        // Its scheme is the one Bootstrap probes other nodes with (https with fabric.management.http.tls).
        _ = bootstrap.Routes(ManagementRouteProviderSettings.Create(new Uri($"{settings.ManagementScheme}://{settings.ManagementHost}:{settings.ManagementPort}/"), true));
        if (settings.SeedNodes.Count > 0)
        {
            return; // Akka joins the configured seed nodes itself.
        }

        if (settings.UsesDiscovery)
        {
            await bootstrap.Start().ConfigureAwait(false);
        }
        else
        {
            await cluster.JoinAsync(cluster.SelfAddress).ConfigureAwait(false);
        }
    }

    private static async Task StartUpAsync(
        ActorSystem system,
        FabricNodeSettings settings,
        FabricStartupInfo startup,
        IReadOnlyList<IFabricFeature> features,
        IServiceProvider services,
        IHostApplicationLifetime lifetime,
        ILogger log)
    {
        await JoinAsync(system, settings).ConfigureAwait(false);
        ReportRemoval(system, log);
        PersistenceFailures.Get(system); // fabric_persistence_failures_total is served from the start, at 0
        var history = await WarmPersistenceAsync(system, settings).ConfigureAwait(false);
        FabricMetrics.Get(system).Register(new ClusterMetricsSource(system, history.Starts));
        FabricMetrics.Get(system).Register(new SingletonMetricsSource(system));
        log.LogInformation(
            "fabric-node {Address} roles [{Roles}] management {Scheme}://{Host}:{Port} persistence {Provider} (start #{Starts}); discovery {Method}",
            Cluster.Get(system).SelfAddress, string.Join(",", settings.Roles), settings.ManagementScheme, settings.ManagementHost, settings.ManagementPort,
            settings.Persistence, history.Starts, settings.UsesDiscovery ? settings.DiscoveryMethod : settings.SeedNodes.Count > 0 ? "seed-nodes" : "none (joins itself)");

        var context = new FabricNodeContext(system, startup, services.GetRequiredService<ILoggerFactory>());
        foreach (var feature in features)
        {
            if (feature.ShouldStart(startup))
            {
                log.LogInformation("Starting feature {Feature}", feature.Name);
                await feature.StartAsync(context, lifetime.ApplicationStopping).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// A downed node does not exit (<c>akka.cluster.run-coordinated-shutdown-when-down = off</c>):
    /// its pipelines do not depend on the cluster and keep capturing. Its cluster extension stops,
    /// <c>/ready</c> turns 503, <c>/node</c> and <c>fabric_cluster_self_removed</c> say so, and this
    /// one line tells the operator what to do. A graceful leave (SIGTERM, <c>fabric cluster leave</c>)
    /// is not reported: CoordinatedShutdown is already running then.
    /// </summary>
    private static void ReportRemoval(ActorSystem system, ILogger log)
    {
        var cluster = Cluster.Get(system);
        cluster.RegisterOnMemberRemoved(() =>
        {
            if (CoordinatedShutdown.Get(system).ShutdownReason is null)
            {
                log.LogWarning(
                    "This node {Address} was removed from the cluster by a downing decision (Split Brain Resolver or fabric cluster down); capture continues; restart the node to rejoin",
                    cluster.SelfAddress);
            }
        });
    }

    private static async Task<NodeHistory> WarmPersistenceAsync(ActorSystem system, FabricNodeSettings settings)
    {
        var history = system.ActorOf(NodeHistoryActor.Props($"{settings.RemoteHost}:{settings.RemotePort}"), NodeHistoryActor.Name);
        var version = typeof(NodeProgram).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        try
        {
            return await history.Ask<NodeHistory>(new RecordNodeStart(DateTimeOffset.UtcNow, version), settings.WarmUpTimeout).ConfigureAwait(false);
        }
        catch (AskTimeoutException e)
        {
            throw new InvalidOperationException(
                $"fabric.persistence: the {settings.Persistence} journal did not answer within {settings.WarmUpTimeout.TotalSeconds:0}s (fabric.persistence.warm-up-timeout); check the database", e);
        }
    }

    private static void CheckPortFree(string host, int port, string path)
    {
        IPAddress address;
        if (IPAddress.TryParse(host, out var parsed))
        {
            address = parsed;
        }
        else if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = IPAddress.Loopback;
        }
        else
        {
            address = IPAddress.Any;
        }

        try
        {
            using var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new FabricConfigException(path, $"{host}:{port} is already in use");
        }
        catch (SocketException e)
        {
            throw new FabricConfigException(path, $"cannot listen on {host}:{port}: {e.Message}");
        }
    }

    private static void CreateDataDirectory(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FabricConfigException("fabric.data-dir", $"cannot create \"{directory}\": {FabricConfig.OneLine(e.Message)}");
        }
    }

    private static IEnumerable<Assembly> LoadedFabricAssemblies() =>
        AppDomain.CurrentDomain.GetAssemblies().Where(a => !a.IsDynamic && a.GetName().Name?.StartsWith("Fabric.", StringComparison.Ordinal) == true);

    private static Exception Innermost(Exception e)
    {
        while (e is AggregateException { InnerException: { } inner })
        {
            e = inner;
        }

        return e is TargetInvocationException { InnerException: { } target } ? target : e;
    }
}
