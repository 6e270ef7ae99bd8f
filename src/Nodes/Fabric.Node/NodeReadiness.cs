namespace Fabric.Node;

/// <summary>
/// Whether the node finished starting (joined, journal warmed, features started). `/ready`
/// answers 200 only after that, so orchestrators and tests do not act on a half-started node.
/// </summary>
public sealed class NodeReadiness
{
    private int _started;

    public bool Started => Volatile.Read(ref _started) == 1;

    public void MarkStarted() => Interlocked.Exchange(ref _started, 1);
}
