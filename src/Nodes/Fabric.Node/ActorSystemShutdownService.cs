using Akka.Actor;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fabric.Node;

/// <summary>
/// Ties the ActorSystem to the host: when the host stops (SIGTERM, Ctrl-C: the WebApplication
/// owns those signals) it runs CoordinatedShutdown, which leaves the cluster gracefully; when the
/// ActorSystem ends by itself (downed, left), <see cref="NodeExit"/> records why.
/// </summary>
internal sealed class ActorSystemShutdownService(ActorSystem system, NodeExit exit, ILogger<ActorSystemShutdownService> log) : IHostedService
{
    private static readonly TimeSpan LeaveTimeout = TimeSpan.FromSeconds(8);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var shutdown = CoordinatedShutdown.Get(system);
        if (system.WhenTerminated.IsCompleted)
        {
            exit.SystemEnded(shutdown.ShutdownReason);
            return;
        }

        log.LogInformation("Stopping: leaving the cluster (CoordinatedShutdown)");
        try
        {
            await shutdown.Run(CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(LeaveTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            log.LogWarning("CoordinatedShutdown did not finish within {Timeout}; terminating the actor system", LeaveTimeout);
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
        }
    }
}
