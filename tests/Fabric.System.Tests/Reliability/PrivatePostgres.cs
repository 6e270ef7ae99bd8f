using Fabric.System.Tests.Deploy;

namespace Fabric.System.Tests.Reliability;

/// <summary>
/// A private PostgreSQL 15 instance for one test, so that it can be stopped and started without
/// touching the machine's shared cluster: <c>initdb</c> and <c>pg_ctl</c> run as user postgres
/// (<c>runuser -u postgres --</c>) on a data directory in a temp directory owned by postgres, on
/// a free loopback port, with its unix socket in that directory; superuser <c>fabric</c>, trust
/// authentication (loopback only). Dispose stops the server by the pid in its
/// <c>postmaster.pid</c> (if it is running) and deletes the directory.
/// </summary>
public sealed class PrivatePostgres : IDisposable
{
    private const string Bin = "/usr/lib/postgresql/15/bin";

    public PrivatePostgres()
    {
        Directory = Path.Combine(Path.GetTempPath(), "fps-pg-" + Guid.NewGuid().ToString("N")[..8]);
        global::System.IO.Directory.CreateDirectory(Directory);
        DataDirectory = Path.Combine(Directory, "data");
        Port = Run.FreePort();
        try
        {
            Check(Run.Process("chown", "postgres:postgres", Directory));
            Check(Run.Process("runuser", TimeSpan.FromMinutes(2), ["-u", "postgres", "--", Path.Combine(Bin, "initdb"), "-D", DataDirectory, "-U", "fabric", "--auth=trust", "--no-sync", "-E", "UTF8"], Directory));
            Start();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The temp directory (data directory, log, unix socket), owned by postgres.</summary>
    public string Directory { get; }

    public string DataDirectory { get; }

    public int Port { get; }

    public string LogFile => Path.Combine(Directory, "postgres.log");

    /// <summary>Npgsql connection string of the <c>postgres</c> database as superuser <c>fabric</c>.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Database=postgres;Username=fabric";

    /// <summary><c>pg_ctl start -w</c>: returns once the server accepts connections.</summary>
    public void Start() => Check(PgCtl("start", "-w", "-t", "60", "-l", LogFile, "-o", $"-p {Port} -k {Directory} -c listen_addresses=127.0.0.1 -c fsync=off"));

    /// <summary><c>pg_ctl stop -m fast</c>: clients are disconnected, returns once the server is down.</summary>
    public void Stop() => Check(PgCtl("stop", "-w", "-t", "60", "-m", "fast"));

    /// <summary>The end of the server log (for failure messages).</summary>
    public string LogTail() => File.Exists(LogFile) ? string.Join('\n', File.ReadLines(LogFile).TakeLast(20)) : "";

    private Run.Result PgCtl(params string[] args) =>
        Run.Process("runuser", TimeSpan.FromMinutes(2), ["-u", "postgres", "--", Path.Combine(Bin, "pg_ctl"), "-D", DataDirectory, .. args], Directory);

    private static void Check(Run.Result result)
    {
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(result.ToString());
        }
    }

    public void Dispose()
    {
        var pidFile = Path.Combine(DataDirectory, "postmaster.pid");
        if (File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).First(), out var pid))
        {
            try
            {
                using var postmaster = global::System.Diagnostics.Process.GetProcessById(pid);
                Run.Process("kill", "-QUIT", pid.ToString(global::System.Globalization.CultureInfo.InvariantCulture)); // immediate shutdown
                postmaster.WaitForExit(TimeSpan.FromSeconds(30));
            }
            catch (ArgumentException)
            {
                // not running (a stale pid file)
            }
        }

        if (global::System.IO.Directory.Exists(Directory))
        {
            global::System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}
