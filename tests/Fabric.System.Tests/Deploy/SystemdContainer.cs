using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Fabric.System.Tests.Deploy;

/// <summary>
/// One Debian 12 container booted with a real systemd for the whole <see cref="SystemdCollection"/>:
/// a copy of the cached debootstrap root (<see cref="NspawnRoot"/>), <c>systemd-nspawn -b
/// --register=no --keep-unit --private-network</c> (its own network namespace with only
/// loopback: the node's ports never clash with this machine's, and nspawn keeps CAP_NET_ADMIN in
/// the container only with a private network), driven with <c>nsenter -t &lt;its systemd&gt; -a</c>.
/// Also builds the .deb (<see cref="DebPackageFixture"/>, meanwhile). Dispose powers the container
/// off (kills the nspawn process by pid if it does not end), then deletes the copied root.
/// </summary>
public sealed class SystemdContainer : IDisposable
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(2);

    private readonly StringBuilder console = new();
    private readonly Process? nspawn;

    public SystemdContainer()
    {
        // The .deb builds (publishes) while the root is made and the container boots.
        var deb = Task.Run(() => new DebPackageFixture());
        Name = "fabric-sd-" + Random.Shared.Next(0x10000, 0xFFFFF).ToString("x5", CultureInfo.InvariantCulture);
        Root = Path.Combine("/var/tmp", Name);
        try
        {
            var cached = NspawnRoot.Cached();
            var copy = Run.Process("cp", TimeSpan.FromMinutes(5), ["-a", "--reflink=auto", cached, Root]);
            if (copy.ExitCode != 0)
            {
                throw new InvalidOperationException($"copying the cached root {cached}: {copy}");
            }

            var start = new ProcessStartInfo("systemd-nspawn")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var argument in (string[])["--boot", "--directory", Root, "--machine", Name, "--register=no", "--keep-unit", "--private-network", "--console=read-only"])
            {
                start.ArgumentList.Add(argument);
            }

            var watch = Stopwatch.StartNew();
            nspawn = Process.Start(start) ?? throw new InvalidOperationException("cannot start systemd-nspawn");
            nspawn.OutputDataReceived += (_, e) => Append(e.Data);
            nspawn.ErrorDataReceived += (_, e) => Append(e.Data);
            nspawn.BeginOutputReadLine();
            nspawn.BeginErrorReadLine();

            SystemdPid = WaitForInit();
            string state = "";
            while (watch.Elapsed < BootTimeout)
            {
                state = Exec("systemctl", "is-system-running").Stdout.Trim();
                if (state is "running" or "degraded")
                {
                    break;
                }

                Thread.Sleep(200);
            }

            if (state != "running")
            {
                throw new InvalidOperationException($"the container's systemd is \"{state}\" after {watch.Elapsed.TotalSeconds:0.0} s, not running: {Exec("systemctl", "--failed", "--no-pager")}\nconsole:\n{Console}");
            }

            BootSeconds = watch.Elapsed.TotalSeconds;
            Deb = deb.GetAwaiter().GetResult();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public DebPackageFixture Deb { get; }

    /// <summary>The machine name (also the container's hostname and the copied root's directory name).</summary>
    public string Name { get; }

    /// <summary>The copy of the cached root the container runs on (deleted by Dispose).</summary>
    public string Root { get; }

    /// <summary>Pid (in this machine's pid namespace) of the container's systemd, its pid 1.</summary>
    public int SystemdPid { get; }

    /// <summary>From starting systemd-nspawn to <c>systemctl is-system-running</c> = running.</summary>
    public double BootSeconds { get; }

    /// <summary>What systemd-nspawn and the container's console printed so far.</summary>
    public string Console
    {
        get
        {
            lock (console)
            {
                return console.ToString();
            }
        }
    }

    /// <summary>Runs a command in every namespace of the container (as its root), to its exit.</summary>
    public Run.Result Exec(params string[] command) => Exec(TimeSpan.FromMinutes(3), command);

    public Run.Result Exec(TimeSpan timeout, params string[] command) =>
        Run.Process("nsenter", timeout, ["-t", SystemdPid.ToString(CultureInfo.InvariantCulture), "-a", "--", .. command]);

    /// <summary>Runs a program of this machine (curl, say) in the container's network namespace only.</summary>
    public Run.Result InNetwork(params string[] command) =>
        Run.Process("nsenter", TimeSpan.FromMinutes(1), ["-t", SystemdPid.ToString(CultureInfo.InvariantCulture), "-n", "--", .. command]);

    /// <summary>Runs a command in the container and fails the test with its output unless it exits 0; returns its stdout.</summary>
    public string Ok(params string[] command)
    {
        var run = Exec(command);
        Assert.True(run.ExitCode == 0, $"{string.Join(' ', command)} in the container: {run}");
        return run.Stdout;
    }

    /// <summary>A file of the container, read through its root directory on this machine.</summary>
    public string PathOf(string containerPath) => Path.Combine(Root, containerPath.TrimStart('/'));

    public void Dispose()
    {
        if (nspawn is not null)
        {
            if (!nspawn.HasExited && SystemdPid > 0)
            {
                try
                {
                    Exec(TimeSpan.FromSeconds(20), "systemctl", "poweroff", "--no-block");
                }
                catch (TimeoutException)
                {
                    // Falls through to the kill below.
                }
            }

            if (!nspawn.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                nspawn.Kill(entireProcessTree: true);
            }

            nspawn.WaitForExit();
            nspawn.Dispose();
        }

        if (Directory.Exists(Root))
        {
            Run.Process("rm", TimeSpan.FromMinutes(5), ["-rf", "--one-file-system", Root]);
        }

    }

    /// <summary>The container's pid 1: the child of systemd-nspawn (found through /proc/PID/task/PID/children).</summary>
    private int WaitForInit()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var children = $"/proc/{nspawn!.Id}/task/{nspawn.Id}/children";
        while (DateTime.UtcNow < deadline)
        {
            if (nspawn.HasExited)
            {
                nspawn.WaitForExit();
                throw new InvalidOperationException($"systemd-nspawn exited {nspawn.ExitCode}:\n{Console}");
            }

            foreach (var child in (File.Exists(children) ? File.ReadAllText(children) : "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var pid = int.Parse(child, CultureInfo.InvariantCulture);
                string comm;
                try
                {
                    comm = File.ReadAllText($"/proc/{pid}/comm").Trim();
                }
                catch (IOException)
                {
                    continue; // that child has ended meanwhile
                }

                if (comm == "systemd" && Run.Process("nsenter", "-t", child, "-a", "--", "test", "-S", "/run/systemd/private").ExitCode == 0)
                {
                    return pid;
                }
            }

            Thread.Sleep(100);
        }

        throw new InvalidOperationException($"the container's systemd did not start within 30 s:\n{Console}");
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (console)
        {
            console.Append(line).Append('\n');
        }
    }
}

/// <summary>The tests that run in the booted container share it (it boots once) and run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class SystemdCollection : ICollectionFixture<SystemdContainer>
{
    public const string Name = "systemd container";
}
