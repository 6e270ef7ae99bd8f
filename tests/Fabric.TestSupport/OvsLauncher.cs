using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Fabric.Tests;

/// <summary>
/// Starts the Debian Open vSwitch daemons (ovsdb-server, ovs-vswitchd) confined to one temporary
/// directory: pidfile, unixctl socket and log there, and OVS_RUNDIR/OVS_DBDIR/OVS_LOGDIR/OVS_SYSCONFDIR
/// pointing there so nothing touches /var/run/openvswitch. The one OVS launcher of the tests; the caller
/// owns the returned process and stops it by pid (Dispose).
/// </summary>
public static class OvsLauncher
{
    /// <summary>The Open_vSwitch schema of the Debian package.</summary>
    public const string Schema = "/usr/share/openvswitch/vswitch.ovsschema";

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// <c>ovsdb-server DATABASE OPTIONS... --pidfile --unixctl --log-file</c> in <paramref name="directory"/>; returns
    /// once <paramref name="ready"/> holds (e.g. <see cref="AcceptsUnix"/> on its socket), or kills it and throws
    /// with its output after 10 s.
    /// </summary>
    public static CapturedProcess StartOvsdbServer(string directory, string database, IEnumerable<string> options, Func<bool> ready, string what)
    {
        ArgumentNullException.ThrowIfNull(options);
        return StartReady(directory, "ovsdb-server", [database, .. options, .. Files(directory, "ovsdb-server")], ready, what);
    }

    /// <summary>
    /// <c>ovs-vswitchd unix:SOCKET --disable-system ... -vconsole:off OPTIONS...</c> in <paramref name="directory"/>
    /// (a userspace datapath; <c>--enable-dummy</c> in <paramref name="options"/> for a dummy one).
    /// </summary>
    public static CapturedProcess StartVswitchd(string directory, string databaseSocket, params string[] options) =>
        Start(directory, "ovs-vswitchd", [$"unix:{databaseSocket}", "--disable-system", .. Files(directory, "ovs-vswitchd"), "-vconsole:off", .. options]);

    /// <summary>True when a unix socket at <paramref name="path"/> accepts a connection.</summary>
    public static bool AcceptsUnix(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>True when 127.0.0.1:<paramref name="port"/> accepts a TCP connection.</summary>
    public static bool AcceptsTcp(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string[] Files(string directory, string daemon) =>
    [
        $"--pidfile={Path.Combine(directory, daemon + ".pid")}",
        $"--unixctl={Path.Combine(directory, daemon + ".ctl")}",
        $"--log-file={Path.Combine(directory, daemon + ".log")}",
    ];

    private static CapturedProcess StartReady(string directory, string daemon, string[] arguments, Func<bool> ready, string what)
    {
        var process = Start(directory, daemon, arguments);
        try
        {
            Wait.Until(ready, ReadyTimeout, () => $"{what} ({daemon} {(process.HasExited ? $"exited {process.ExitCode}" : "running")}): {process.Output}", TimeSpan.FromMilliseconds(10));
            return process;
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    private static CapturedProcess Start(string directory, string daemon, string[] arguments)
    {
        var start = new ProcessStartInfo(daemon);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in new[] { "OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR" })
        {
            start.Environment[name] = directory;
        }

        start.Environment["OVS_PKGDATADIR"] = "/usr/share/openvswitch";
        return CapturedProcess.Start(start);
    }
}
