using Microsoft.Extensions.Hosting.Systemd;

namespace Fabric.Node;

/// <summary>
/// What the unit's Type=notify hears: <c>READY=1</c> only once the node has started (joined,
/// journal warmed, features started: <see cref="NodeReadiness"/>), so <c>systemctl start
/// fabric-node</c> returns when <c>/ready</c> answers 200. The host's systemd lifetime would send
/// it as soon as Kestrel listens, seconds before that; its READY=1 is held back here and
/// <see cref="NodeStarted"/> sends it. Every other state (STOPPING=1) goes through as it is.
/// </summary>
internal sealed class SystemdReadyNotifier(ISystemdNotifier inner) : ISystemdNotifier
{
    private static readonly string Ready = ServiceState.Ready.ToString();

    public bool IsEnabled => inner.IsEnabled;

    public void Notify(ServiceState state)
    {
        if (state.ToString() != Ready)
        {
            inner.Notify(state);
        }
    }

    /// <summary>Tells systemd READY=1 (nothing when not run by systemd).</summary>
    public void NodeStarted()
    {
        if (inner.IsEnabled)
        {
            inner.Notify(ServiceState.Ready);
        }
    }
}
