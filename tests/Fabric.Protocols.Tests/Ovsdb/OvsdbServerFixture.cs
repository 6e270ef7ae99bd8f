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
    private CapturedProcess? _server;

    public OvsdbServerFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "fm-ovsdb-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(Directory);
        DatabasePath = Path.Combine(Directory, "conf.db");
        SocketPath = Path.Combine(Directory, "db.sock");
        Run("ovsdb-tool", $"create {DatabasePath} {OvsLauncher.Schema}");
        Start();
    }

    public string Directory { get; }

    public string DatabasePath { get; }

    public string SocketPath { get; }

    public string Endpoint => "unix:" + SocketPath;

    /// <summary>Starts ovsdb-server on the existing database and waits until its socket accepts.</summary>
    public void Start()
    {
        _server = OvsLauncher.StartOvsdbServer(Directory, DatabasePath, [$"--remote=punix:{SocketPath}"], () => OvsLauncher.AcceptsUnix(SocketPath), "ovsdb-server socket");
    }

    /// <summary>kill -9 of the server (the database file stays).</summary>
    public void Kill()
    {
        _server?.Kill(entireProcessTree: false);
        _server?.Dispose();
        _server = null;
        File.Delete(SocketPath);
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
