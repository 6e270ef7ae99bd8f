using Akka.Actor;

namespace Fabric.Node;

/// <summary>Why the node stopped, and so its exit code.</summary>
public sealed class NodeExit
{
    private int _failed;

    /// <summary>0 after SIGTERM or a graceful leave; 1 when the node was downed or failed.</summary>
    public int ExitCode => Volatile.Read(ref _failed) == 0 ? 0 : NodeProgram.ExitFailed;

    /// <summary>A one-line reason when <see cref="ExitCode"/> is not 0.</summary>
    public string Reason { get; private set; } = string.Empty;

    /// <summary>Marks a failure during start.</summary>
    public void Fail() => Interlocked.Exchange(ref _failed, 1);

    /// <summary>Records how the ActorSystem ended when it ended by itself (not by SIGTERM).</summary>
    public void SystemEnded(CoordinatedShutdown.Reason? reason)
    {
        if (reason is CoordinatedShutdown.ClusterLeavingReason or CoordinatedShutdown.ClrExitReason)
        {
            return;
        }

        Reason = reason switch
        {
            CoordinatedShutdown.ClusterDowningReason => "this node was downed by the cluster (unreachable or split brain); exiting",
            // Akka.Remote stops the system when a TLS handshake it started fails (its type is internal).
            { } r when r.GetType().Name == "TlsHandshakeFailureReason" =>
                "a remoting TLS handshake failed: a peer refused this node's certificate or presented one that does not chain to fabric.remote.tls.ca-file (both sides log why); exiting",
            _ => $"the actor system stopped ({reason?.GetType().Name ?? "unknown reason"}); exiting",
        };
        Interlocked.Exchange(ref _failed, 1);
    }
}
