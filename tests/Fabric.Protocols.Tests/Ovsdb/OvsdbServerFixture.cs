using Xunit;
using System.Diagnostics;

namespace Fabric.Protocols.Tests.Ovsdb;

/// <summary>
/// A real ovsdb-server (Debian openvswitch-switch) with a fresh Open_vSwitch database in a temp
/// directory, listening on a unix socket there. Shared by the OVSDB tests; can be killed and
/// restarted on the same database. Everything it starts is killed by pid on dispose.
/// </summary>
public sealed class OvsdbServerFixture : IDisposable
{
    private const string Schema = "/usr/share/openvswitch/vswitch.ovsschema";
    private Process? _server;

    public OvsdbServerFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "fm-ovsdb-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(Directory);
        DatabasePath = Path.Combine(Directory, "conf.db");
        SocketPath = Path.Combine(Directory, "db.sock");
        Run("ovsdb-tool", $"create {DatabasePath} {Schema}");
        Start();
    }

    public string Directory { get; }

    public string DatabasePath { get; }

    public string SocketPath { get; }

    public string Endpoint => "unix:" + SocketPath;

    /// <summary>Starts ovsdb-server on the existing database and waits until its socket accepts.</summary>
    public void Start()
    {
        var psi = new ProcessStartInfo("ovsdb-server")
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var arg in new[]
        {
            DatabasePath, $"--remote=punix:{SocketPath}", $"--pidfile={Path.Combine(Directory, "ovsdb-server.pid")}",
            $"--unixctl={Path.Combine(Directory, "ovsdb-server.ctl")}", $"--log-file={Path.Combine(Directory, "ovsdb-server.log")}",
        })
        {
            psi.ArgumentList.Add(arg);
        }

        foreach (var name in new[] { "OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR", "OVS_PKGDATADIR" })
        {
            psi.Environment[name] = Directory;
        }

        psi.Environment["OVS_PKGDATADIR"] = "/usr/share/openvswitch";
        _server = Process.Start(psi) ?? throw new InvalidOperationException("ovsdb-server did not start");
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, _) => { };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();
        WaitFor(() => File.Exists(SocketPath) && CanConnect(), TimeSpan.FromSeconds(10), "ovsdb-server socket");
    }

    /// <summary>kill -9 of the server (the database file stays).</summary>
    public void Kill()
    {
        if (_server is { HasExited: false })
        {
            _server.Kill();
            _server.WaitForExit();
        }

        _server?.Dispose();
        _server = null;
        File.Delete(SocketPath);
    }

    private bool CanConnect()
    {
        try
        {
            using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            s.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(SocketPath));
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    internal static void WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException($"{what} not ready after {timeout.TotalSeconds} s");
            }

            Thread.Sleep(20);
        }
    }

    internal static string Run(string file, string arguments)
    {
        var psi = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments}: exit {p.ExitCode}: {stderr.Trim()}");
        }

        return stdout;
    }

    public void Dispose()
    {
        Kill();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class OvsdbServerCollection : ICollectionFixture<OvsdbServerFixture>
{
    public const string Name = "ovsdb-server";
}
