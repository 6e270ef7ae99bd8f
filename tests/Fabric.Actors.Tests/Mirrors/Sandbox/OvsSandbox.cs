using System.Diagnostics;

namespace Fabric.Actors.Tests.Mirrors.Sandbox;

/// <summary>
/// A real Open vSwitch in a temp directory: ovsdb-server and <c>ovs-vswitchd --disable-system</c>
/// (pidfiles, unixctl sockets, logs and database all there; OVS_RUNDIR/OVS_DBDIR/OVS_LOGDIR point
/// there so nothing touches /var/run/openvswitch), one <c>datapath_type=netdev</c> bridge, and
/// kernel taps named like Proxmox VM NICs (<c>tap101i1</c>, <c>tap101i6</c>, <c>tap103i1</c>) plus
/// one more VM NIC (<c>fm…v</c>) as the destination of test traffic.
/// </summary>
/// <remarks>
/// The Proxmox names are global on the machine: if one exists already the fixture fails with a
/// clear message and touches nothing. On dispose it kills its processes by pid and deletes exactly
/// the links it created.
/// </remarks>
public sealed class OvsSandbox : IDisposable
{
    public static readonly string[] ProxmoxTaps = ["tap101i1", "tap101i6", "tap103i1"];
    private readonly HashSet<string> _links = new(StringComparer.Ordinal);
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..6];
    private CapturedProcess? _ovsdb;
    private CapturedProcess? _vswitchd;
    private bool _dummyDatapath;

    public OvsSandbox()
        : this(proxmoxTaps: true)
    {
    }

    /// <summary>
    /// A sandbox without the Proxmox taps (a second "node" whose VMs arrive by migration). Two
    /// <c>netdev</c> datapaths cannot share one kernel (each wants the kernel tap
    /// <c>ovs-netdev</c>), so the second node's vswitchd runs with <c>--enable-dummy</c> and a
    /// <c>datapath_type=dummy</c> bridge: the same userspace datapath, with internal ports that
    /// are not kernel devices; its VM NICs are real kernel taps as on the first node.
    /// </summary>
    internal OvsSandbox(bool proxmoxTaps)
    {
        _dummyDatapath = !proxmoxTaps;
        var taps = proxmoxTaps ? ProxmoxTaps : [];
        foreach (var name in taps)
        {
            if (LinkExists(name))
            {
                throw new InvalidOperationException(
                    $"network device {name} exists already on this machine; the OVS sandbox needs this exact Proxmox tap name " +
                    "(is another test run or a real VM using it? remove it with `ip link del " + name + "` if it is a leftover)");
            }
        }

        Directory = Path.Combine(Path.GetTempPath(), "fm-ovs-" + _suffix);
        global::System.IO.Directory.CreateDirectory(Directory);
        DatabasePath = Path.Combine(Directory, "conf.db");
        SocketPath = Path.Combine(Directory, "db.sock");
        Bridge = "fmbr" + _suffix;
        OtherVmTap = "fm" + _suffix + "v";
        try
        {
            Run("ovsdb-tool", "create", DatabasePath, OvsLauncher.Schema);
            StartOvsdb();
            Vsctl("--no-wait", "init");
            var netdevExisted = LinkExists("ovs-netdev");
            StartVswitchd();
            Vsctl("add-br", Bridge, "--", "set", "bridge", Bridge, _dummyDatapath ? "datapath_type=dummy" : "datapath_type=netdev");
            if (!_dummyDatapath)
            {
                _links.Add(Bridge); // the netdev bridge's internal port is a kernel tap of that name
                if (!netdevExisted)
                {
                    _links.Add("ovs-netdev"); // the userspace datapath's own tap, made by our vswitchd
                }
            }
            foreach (var tap in taps.Append(OtherVmTap))
            {
                AddTap(tap);
                AddPort(tap);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Directory { get; }

    public string DatabasePath { get; }

    public string SocketPath { get; }

    /// <summary><c>unix:&lt;dir&gt;/db.sock</c>.</summary>
    public string Endpoint => "unix:" + SocketPath;

    /// <summary>The netdev bridge (plays vmbr1).</summary>
    public string Bridge { get; }

    /// <summary>A VM NIC on the bridge that is neither mirrored nor the mirror output.</summary>
    public string OtherVmTap { get; }

    /// <summary>
    /// Back to the starting state between tests (so one failed test cannot fail the next): no
    /// mirrors on the bridge, every VM NIC present as a tap and as a port.
    /// </summary>
    public void Reset()
    {
        Vsctl("clear", "Bridge", Bridge, "mirrors");
        var ports = Vsctl("list-ports", Bridge).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var tap in ProxmoxTaps.Append(OtherVmTap))
        {
            if (!LinkExists(tap))
            {
                AddTap(tap);
            }

            if (!ports.Contains(tap))
            {
                AddPort(tap);
            }
        }
    }

    /// <summary>A name with the sandbox's suffix, for other links a test creates (at most 15 characters).</summary>
    public string LinkName(string tag) => "fm" + _suffix + tag;

    public string Vsctl(params string[] args) =>
        Run("ovs-vsctl", [$"--db=unix:{SocketPath}", "--timeout=10", .. args]);

    public string Appctl(params string[] args) =>
        Run("ovs-appctl", ["-t", Path.Combine(Directory, "ovs-vswitchd.ctl"), .. args]);

    /// <summary>The _uuid of a row, e.g. <c>RowUuid("Port", "tap101i1")</c>.</summary>
    public string RowUuid(string table, string record) => Vsctl("get", table, record, "_uuid").Trim();

    /// <summary>A column as ovs-vsctl prints it (e.g. <c>[0b8f…, 6c1b…]</c>).</summary>
    public string Get(string table, string record, string column) => Vsctl("get", table, record, column).Trim();

    /// <summary>Whether Mirror <paramref name="mirror"/> exists and its <paramref name="column"/> holds the current Port <paramref name="port"/>.</summary>
    public bool MirrorHolds(string mirror, string column, string port)
    {
        try
        {
            return Get("Mirror", mirror, column).Contains(RowUuid("Port", port), StringComparison.Ordinal);
        }
        catch (InvalidOperationException)
        {
            return false; // no such mirror or port (yet)
        }
    }

    /// <summary>What vswitchd did lately: datapath flows and the end of its log (for failure messages).</summary>
    public string Diagnostics()
    {
        var log = Path.Combine(Directory, "ovs-vswitchd.log");
        var tail = File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(15)) : "";
        return $"flows:\n{Appctl("dpctl/dump-flows")}\nmirrors:\n{Vsctl("list", "Mirror")}\nlog:\n{tail}";
    }

    public void AddTap(string name)
    {
        Run("ip", "tuntap", "add", "dev", name, "mode", "tap");
        _links.Add(name);
        File.WriteAllText($"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "1");
        Run("ip", "link", "set", name, "up");
    }

    public void DeleteLink(string name)
    {
        Run("ip", "link", "del", name);
        _links.Remove(name);
    }

    /// <summary>Creates a veth pair named <paramref name="name"/>/<paramref name="peer"/>, both up, IPv6 off.</summary>
    public void AddVeth(string name, string peer)
    {
        Run("ip", "link", "add", name, "type", "veth", "peer", "name", peer);
        _links.Add(name);
        _links.Add(peer);
        foreach (var n in new[] { name, peer })
        {
            File.WriteAllText($"/proc/sys/net/ipv6/conf/{n}/disable_ipv6", "1");
            Run("ip", "link", "set", n, "up");
        }
    }

    /// <summary>Forgets a link that was deleted together with another (a veth peer).</summary>
    public void Forget(string name) => _links.Remove(name);

    public void AddPort(string name) => Vsctl("add-port", Bridge, name);

    public void DelPort(string name) => Vsctl("del-port", Bridge, name);

    /// <summary>
    /// A VM NIC restarted the way Proxmox does it (qemu-server: del-port, the tap goes away with
    /// the old qemu, a new tap, add-port).
    /// </summary>
    public void RestartVmNic(string tap)
    {
        DelPort(tap);
        DeleteLink(tap);
        AddTap(tap);
        AddPort(tap);
    }

    /// <summary>kill -9 of ovsdb-server (the database file stays).</summary>
    public void KillOvsdb()
    {
        Kill(ref _ovsdb);
        File.Delete(SocketPath);
    }

    /// <summary>Starts ovsdb-server on the existing database and waits until its socket accepts.</summary>
    public void StartOvsdb()
    {
        _ovsdb = OvsLauncher.StartOvsdbServer(Directory, DatabasePath, [$"--remote=punix:{SocketPath}"], () => OvsLauncher.AcceptsUnix(SocketPath), "ovsdb-server socket " + SocketPath);
    }

    private void StartVswitchd() =>
        _vswitchd = _dummyDatapath ? OvsLauncher.StartVswitchd(Directory, SocketPath, "--enable-dummy") : OvsLauncher.StartVswitchd(Directory, SocketPath);

    /// <summary>kill -9 by pid, then waits for the exit and its last output line.</summary>
    private static void Kill(ref CapturedProcess? process)
    {
        process?.Kill(entireProcessTree: false);
        process?.Dispose();
        process = null;
    }

    public static bool LinkExists(string name) => global::System.IO.Directory.Exists("/sys/class/net/" + name);

    /// <summary><see cref="Wait.Until"/> every 10 ms.</summary>
    public static void WaitFor(Func<bool> condition, TimeSpan timeout, string what) =>
        Wait.Until(condition, timeout, () => what, TimeSpan.FromMilliseconds(10));

    public static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {p.ExitCode}: {stderr.Trim()}");
        }

        return stdout.Result;
    }

    public void Dispose()
    {
        Kill(ref _vswitchd);
        Kill(ref _ovsdb);
        foreach (var link in _links.ToArray())
        {
            if (LinkExists(link))
            {
                try
                {
                    Run("ip", "link", "del", link);
                }
                catch (InvalidOperationException)
                {
                    // a veth peer already gone with its pair
                }
            }
        }

        _links.Clear();
        if (global::System.IO.Directory.Exists(Directory))
        {
            global::System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class OvsSandboxCollection : ICollectionFixture<OvsSandbox>
{
    public const string Name = "ovs-sandbox";
}
