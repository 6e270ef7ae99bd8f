using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Fabric.System.Tests.DataPlane;
using Xunit;

namespace Fabric.System.Tests.Reliability;

/// <summary>
/// The real parts of the sink fault tests (issue 8, scenarios 3 and 4), created once and removed after the last
/// test, also when tests fail. Every name starts with <c>fpk&lt;id&gt;</c>:
/// <list type="bullet">
/// <item>namespace <c>fpk&lt;id&gt;s</c> ("the sender") with two veth pairs to the root namespace; in it a kernel
/// VXLAN device on each that encapsulates what <see cref="StartSender"/> sends; the root sides
/// <c>fpk&lt;id&gt;a</c> and <c>fpk&lt;id&gt;b</c> are the sources of the pipelines <c>disk</c> and <c>slow</c>;</item>
/// <item>a 2 MiB tmpfs mounted on <see cref="FullDisk"/> (a directory of its own), where the first PCAP sink of
/// <c>disk</c> writes; its second PCAP sink writes to the normal disk (<see cref="NormalDisk"/>);</item>
/// <item>namespace <c>fpk&lt;id&gt;c</c> ("the collector") behind the veth <c>fpk&lt;id&gt;f</c>, the forwarder's
/// destination, made unreachable by a route of type unreachable for exactly that address (root namespace);</item>
/// <item>namespace <c>fpk&lt;id&gt;r</c> ("the reader"), where the test moves the TAP <c>fpk&lt;id&gt;t</c> of the
/// pipeline <c>slow</c>;</item>
/// <item>one fabric-node process (role capture) running both pipelines, on free loopback ports.</item>
/// </list>
/// Needs root. The forwarder's destination starts unreachable (the route exists before the node starts).
/// </summary>
public sealed class SinkFaultFixture : IAsyncLifetime
{
    /// <summary>Size of the small file system under the first PCAP sink of <c>disk</c>.</summary>
    public const string FullDiskSize = "2m";

    private const string SenderScript = """
        import socket, sys, time, signal
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
        dst, rate = sys.argv[1], int(sys.argv[2])
        payloads = [bytes(n) for n in (200, 600, 1000)]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent, start = 0, time.monotonic()
        while True:
            due = int((time.monotonic() - start) * rate)
            if due - sent > rate:
                sent = due - rate
            while sent < due:
                try:
                    s.sendto(payloads[sent % 3], (dst, 5000 + sent % 1000))
                except OSError:
                    pass
                sent += 1
            time.sleep(0.002)
        """;

    private const string StalledReaderScript = """
        import socket, struct, sys
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind((sys.argv[1], 0))
        print("ready", flush=True)
        sys.stdin.read()
        packets, drops = struct.unpack("II", s.getsockopt(263, 6, 8))
        print(packets, drops, flush=True)
        """;

    private readonly List<string> _namespaces = [];
    private readonly List<string> _rootLinks = [];
    private readonly StringBuilder _output = new();
    private bool _mounted;
    private bool _unreachableRoute;
    private CapturedProcess? _node;

    public SinkFaultFixture()
    {
        Id = Random.Shared.Next(0x1000, 0xFFFF).ToString("x4", CultureInfo.InvariantCulture);
        A = Random.Shared.Next(16, 32);
        B = Random.Shared.Next(0, 256);
        Directory = global::System.IO.Directory.CreateTempSubdirectory($"fpk{Id}-").FullName;
        FullDisk = Path.Combine(Directory, $"fpk{Id}-tmpfs");
        NormalDisk = Path.Combine(Directory, "pcap-normal");
        ManagementPort = FreePort();
    }

    public string Id { get; }

    /// <summary>Addresses are 172.A.B.x (A in 16-31, B random): /26 blocks for the two sources, the collector and
    /// the TAP's namespace.</summary>
    public int A { get; }

    public int B { get; }

    public string Directory { get; }

    public string FullDisk { get; }

    public string NormalDisk { get; }

    public int ManagementPort { get; }

    public string SenderNamespace => $"fpk{Id}s";

    public string CollectorNamespace => $"fpk{Id}c";

    public string ReaderNamespace => $"fpk{Id}r";

    public string DiskInterface => $"fpk{Id}a";

    public string SlowInterface => $"fpk{Id}b";

    public string CollectorRootVeth => $"fpk{Id}f";

    public string CollectorVeth => $"fpk{Id}g";

    public string Tap => $"fpk{Id}t";

    /// <summary>Inner destinations behind the sender's two VXLAN devices (static neighbours; nobody answers).</summary>
    public string DiskInnerPeer => $"192.168.{B}.2";

    public string SlowInnerPeer => $"192.168.{B}.130";

    public string CollectorAddress => $"172.{A}.{B}.130";

    public string TapAddress => $"172.{A}.{B}.193";

    public string TapNeighbour => $"172.{A}.{B}.194";

    public int NodePid => _node?.Id ?? throw new InvalidOperationException("no node");

    public bool NodeAlive => _node is { HasExited: false };

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public async Task InitializeAsync()
    {
        try
        {
            foreach (var ns in new[] { SenderNamespace, CollectorNamespace, ReaderNamespace })
            {
                Shell.Ip($"netns add {ns}");
                _namespaces.Add(ns);
                Shell.InNamespace(ns, "sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
                Shell.InNamespace(ns, "ip link set lo up");
            }

            SenderLink(DiskInterface, $"fpk{Id}p", $"fpk{Id}x", 42, 0, DiskInnerPeer, $"192.168.{B}.1/25");
            SenderLink(SlowInterface, $"fpk{Id}q", $"fpk{Id}y", 43, 64, SlowInnerPeer, $"192.168.{B}.129/25");
            CollectorLink();
            Shell.Ip($"route add unreachable {CollectorAddress}/32");
            _unreachableRoute = true;

            global::System.IO.Directory.CreateDirectory(FullDisk);
            Shell.Run("mount", $"-t tmpfs -o size={FullDiskSize} fpk{Id} {FullDisk}");
            _mounted = true;
            await StartNodeAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>Makes the forwarder's destination unreachable (a route of type unreachable for it) or reachable.</summary>
    public void SetCollectorReachable(bool reachable)
    {
        if (reachable && _unreachableRoute)
        {
            Shell.Ip($"route del unreachable {CollectorAddress}/32");
            _unreachableRoute = false;
        }
        else if (!reachable && !_unreachableRoute)
        {
            Shell.Ip($"route add unreachable {CollectorAddress}/32");
            _unreachableRoute = true;
        }
    }

    /// <summary>Starts a paced UDP sender in the sender namespace; the kernel VXLAN device encapsulates it.</summary>
    public BackgroundProcess StartSender(string innerPeer, int packetsPerSecond) =>
        new("ip", ["netns", "exec", SenderNamespace, "python3", "-c", SenderScript, innerPeer, packetsPerSecond.ToString(CultureInfo.InvariantCulture)]);

    /// <summary>Starts a paced UDP sender in the reader namespace whose packets leave through the TAP, towards
    /// the node that never reads them.</summary>
    public BackgroundProcess StartTapFlood(int packetsPerSecond) =>
        new("ip", ["netns", "exec", ReaderNamespace, "python3", "-c", SenderScript, TapNeighbour, packetsPerSecond.ToString(CultureInfo.InvariantCulture)]);

    /// <summary>A reader of the TAP (AF_PACKET, 4 KiB receive buffer) that never reads until it is finished.</summary>
    public BackgroundProcess StartStalledReader()
    {
        var reader = new BackgroundProcess("ip", ["netns", "exec", ReaderNamespace, "python3", "-c", StalledReaderScript, Tap], stdin: true);
        Shell.WaitUntil(() => reader.Output.Contains("ready", StringComparison.Ordinal) || reader.Exited, TimeSpan.FromSeconds(20), () => "stalled reader ready");
        Assert.False(reader.Exited, $"stalled reader exited: {reader.Output}");
        return reader;
    }

    /// <summary>Moves the node's TAP into the reader namespace with a small transmit queue and an address,
    /// and brings it up there.</summary>
    public void MoveTapToReaderNamespace(int txQueueLength)
    {
        Shell.Ip($"link set {Tap} netns {ReaderNamespace}");
        Shell.InNamespace(ReaderNamespace, $"ip link set {Tap} txqueuelen {txQueueLength}");
        Shell.InNamespace(ReaderNamespace, $"ip addr add {TapAddress}/26 dev {Tap}");
        Shell.InNamespace(ReaderNamespace, $"ip link set {Tap} up");
        Shell.InNamespace(ReaderNamespace, $"ip neigh replace {TapNeighbour} lladdr 02:fd:00:00:00:09 dev {Tap} nud permanent");
    }

    /// <summary>A counter of a link in a namespace (/sys/class/net/DEV/statistics/NAME).</summary>
    public static long LinkCounter(string ns, string device, string name) =>
        long.Parse(Shell.InNamespace(ns, $"cat /sys/class/net/{device}/statistics/{name}").Trim(), CultureInfo.InvariantCulture);

    /// <summary>Resident set size of the node (VmRSS of /proc/PID/status), in KiB.</summary>
    public long NodeRssKiB()
    {
        foreach (var line in File.ReadLines($"/proc/{NodePid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("no VmRSS");
    }

    public HttpClient Http() => new() { BaseAddress = new Uri($"http://127.0.0.1:{ManagementPort}/"), Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>The node's stats of one pipeline (GET /pipelines/NAME/stats).</summary>
    public async Task<PipelineView> StatsAsync(string pipeline)
    {
        using var http = Http();
        var body = await http.GetStringAsync(new Uri($"pipelines/{pipeline}/stats", UriKind.Relative));
        return PipelineView.Parse(body);
    }

    public async Task<string> MetricsAsync()
    {
        using var http = Http();
        return await http.GetStringAsync(new Uri("metrics", UriKind.Relative));
    }

    /// <summary>Runs the console (`fabric --node URL ARGS`) to its exit.</summary>
    public string Console(params string[] arguments)
    {
        var info = new ProcessStartInfo(TestPaths.PublishedConsole, ["--node", $"http://127.0.0.1:{ManagementPort}", .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"fabric {string.Join(' ', arguments)}: exit {process.ExitCode}: {error}");
        return output.Result;
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            _node.Dispose(); // kills it if it still runs, then waits for its last output line
            _node = null;
        }

        if (_mounted)
        {
            Shell.Run("umount", FullDisk, check: false);
            if (IsMounted(FullDisk))
            {
                Shell.Run("umount", $"-l {FullDisk}", check: false);
            }
        }

        if (_unreachableRoute)
        {
            Shell.Ip($"route del unreachable {CollectorAddress}/32", check: false);
        }

        foreach (var link in _rootLinks)
        {
            Shell.Ip($"link del {link}", check: false);
        }

        // The TAP is persistent: remove it wherever it is now (the reader namespace or the root namespace).
        Shell.InNamespace(ReaderNamespace, $"ip link del {Tap}", check: false);
        Shell.Ip($"link del {Tap}", check: false);
        foreach (var ns in _namespaces)
        {
            Shell.Ip($"netns del {ns}", check: false);
        }

        _namespaces.Clear();
        _rootLinks.Clear();
        _mounted = false;
        if (!IsMounted(FullDisk) && global::System.IO.Directory.Exists(Directory))
        {
            global::System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    private static bool IsMounted(string path) =>
        File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ')[4] == path);

    private void SenderLink(string rootVeth, string veth, string vxlan, int vni, int block, string innerPeer, string innerAddress)
    {
        string outer = $"172.{A}.{B}";
        Shell.Ip($"link add {rootVeth} type veth peer name {veth}");
        _rootLinks.Add(rootVeth);
        Shell.Run("sh", $"-c \"echo 1 > /proc/sys/net/ipv6/conf/{rootVeth}/disable_ipv6\"");
        Shell.Ip($"link set {veth} netns {SenderNamespace}");
        Shell.Ip($"link set {rootVeth} mtu 9000 up");
        // The tunnel goes to .3 behind a MAC nobody has and the root side has no address: the root namespace
        // takes the frames as PACKET_OTHERHOST and answers nothing, so only the sender's traffic crosses.
        Shell.InNamespace(SenderNamespace, $"ip addr add {outer}.{block + 2}/26 dev {veth}");
        Shell.InNamespace(SenderNamespace, $"ip link set {veth} mtu 9000 up");
        Shell.InNamespace(SenderNamespace, $"ip neigh replace {outer}.{block + 3} lladdr 02:fd:00:00:00:01 dev {veth} nud permanent");
        Shell.InNamespace(SenderNamespace, $"ip link add {vxlan} type vxlan id {vni} remote {outer}.{block + 3} local {outer}.{block + 2} dstport 4789 dev {veth}");
        Shell.InNamespace(SenderNamespace, $"ip addr add {innerAddress} dev {vxlan}");
        Shell.InNamespace(SenderNamespace, $"ip link set {vxlan} up");
        Shell.InNamespace(SenderNamespace, $"ip neigh replace {innerPeer} lladdr 02:fd:00:00:00:02 dev {vxlan} nud permanent");
    }

    private void CollectorLink()
    {
        Shell.Ip($"link add {CollectorRootVeth} type veth peer name {CollectorVeth}");
        _rootLinks.Add(CollectorRootVeth);
        Shell.Run("sh", $"-c \"echo 1 > /proc/sys/net/ipv6/conf/{CollectorRootVeth}/disable_ipv6\"");
        Shell.Ip($"link set {CollectorVeth} netns {CollectorNamespace}");
        Shell.Ip($"addr add 172.{A}.{B}.129/26 dev {CollectorRootVeth}");
        Shell.Ip($"link set {CollectorRootVeth} up");
        Shell.InNamespace(CollectorNamespace, $"ip addr add {CollectorAddress}/26 dev {CollectorVeth}");
        Shell.InNamespace(CollectorNamespace, $"ip link set {CollectorVeth} up");
        string collectorMac = Shell.InNamespace(CollectorNamespace, $"cat /sys/class/net/{CollectorVeth}/address").Trim();
        Shell.Ip($"neigh replace {CollectorAddress} lladdr {collectorMac} dev {CollectorRootVeth} nud permanent");
        string rootMac = File.ReadAllText($"/sys/class/net/{CollectorRootVeth}/address").Trim();
        Shell.InNamespace(CollectorNamespace, $"ip neigh replace 172.{A}.{B}.129 lladdr {rootMac} dev {CollectorVeth} nud permanent");
    }

    /// <summary>Packet memory per pipeline (its batch pool), allocated at start and never more.</summary>
    public const long PoolBytesPerPipeline = 384L * 64 * 1024;

    /// <summary>Each pipeline's batches: 384 x 64 KiB = 24 MiB (<see cref="PoolBytesPerPipeline"/>). A batch is
    /// handed on every 10 ms at these rates, so 300 batches in front of a stage ride out about 3 s of a busy
    /// (shared) machine without a queue-full drop: a stalled sink must show up as its own named drops, not as
    /// queue-full. The libpcap ring is 4 MiB (it is mapped into the process: part of its RSS).</summary>
    private async Task StartNodeAsync()
    {
        int remoting = FreePort();
        string config = Path.Combine(Directory, "node.conf");
        await File.WriteAllTextAsync(config, $$"""
            akka.cluster.roles = [capture]
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = {{remoting}} }
            fabric {
              data-dir = "{{Directory}}/data"
              management.http { host = 127.0.0.1, port = {{ManagementPort}} }
              pipelines = [
                {
                  name = disk
                  source {
                    interface = {{DiskInterface}}
                    buffer-size = 4MiB
                  }
                  batch-bytes = 64KiB
                  batches = 384
                  queue-depth = 300
                  sinks = [
                    { type = pcap, directory = "{{FullDisk}}", rotate-size = 4MiB, keep-size = 64KiB, write-buffer = 64KiB, flush-interval = 100ms }
                    { type = pcap, directory = "{{NormalDisk}}", rotate-size = 64MiB, flush-interval = 100ms }
                  ]
                }
                {
                  name = slow
                  source {
                    interface = {{SlowInterface}}
                    buffer-size = 4MiB
                  }
                  batch-bytes = 64KiB
                  batches = 384
                  queue-depth = 300
                  sinks = [
                    { type = tap, device = {{Tap}}, mtu = 9000 }
                    { type = forward, encapsulation = vxlan, destination = "{{CollectorAddress}}:4789", vni = 7 }
                  ]
                }
              ]
            }
            """);
        _node = FabricNodeLauncher.Start(config, Directory, Append);
        foreach (var pipeline in new[] { "disk", "slow" })
        {
            await UntilAsync(async () =>
            {
                if (_node.HasExited)
                {
                    throw new InvalidOperationException($"fabric-node exited with {_node.ExitCode}:\n{Output}");
                }

                try
                {
                    var stats = await StatsAsync(pipeline);
                    return stats.State == "running" && stats.SourceUp;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
                catch (TaskCanceledException)
                {
                    return false;
                }
            }, TimeSpan.FromMinutes(2), () => $"pipeline {pipeline} running; output:\n{Output}");
        }
    }

    /// <summary><see cref="Wait.UntilAsync"/> every 100 ms.</summary>
    public static Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> what) =>
        Wait.UntilAsync(condition, timeout, what, TimeSpan.FromMilliseconds(100));

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Append(line).Append('\n');
        }
    }

    private static int FreePort() => Ports.Free();
}

[CollectionDefinition(Name)]
public sealed class SinkFaultCollection : ICollectionFixture<SinkFaultFixture>
{
    public const string Name = "sink faults (tmpfs, namespaces, tap, unreachable collector)";
}

/// <summary>A helper process (python in a namespace) killed by its pid when disposed.</summary>
public sealed class BackgroundProcess : IDisposable
{
    private readonly CapturedProcess _process;

    public BackgroundProcess(string file, IEnumerable<string> arguments, bool stdin = false)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardInput = stdin };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        _process = CapturedProcess.Start(info);
    }

    public bool Exited => _process.HasExited;

    public string Output => _process.Output;

    /// <summary>Closes its standard input and waits for it to exit; returns what it printed.</summary>
    public string Finish()
    {
        _process.Process.StandardInput.Close();
        if (!_process.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            _process.Kill();
        }

        return Output;
    }

    public void Dispose() => _process.Dispose(); // kills it if it still runs, then waits for its last line
}

/// <summary>The parts of a pipeline's stats document the tests read.</summary>
public sealed record PipelineView(string State, bool SourceUp, long Captured, bool Balanced, IReadOnlyDictionary<string, StageView> Stages)
{
    public StageView this[string stage] => Stages[stage];

    public static PipelineView Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var p = document.RootElement.GetProperty("pipelines")[0];
        var stages = new Dictionary<string, StageView>(StringComparer.Ordinal);
        foreach (var stage in p.GetProperty("stages").EnumerateArray())
        {
            var dropped = stage.GetProperty("dropped").EnumerateObject()
                .ToDictionary(d => d.Name, d => d.Value.GetProperty("packets").GetInt64(), StringComparer.Ordinal);
            var events = stage.GetProperty("events").EnumerateObject()
                .ToDictionary(e => e.Name, e => e.Value.GetInt64(), StringComparer.Ordinal);
            string name = stage.GetProperty("stage").GetString()!;
            stages[name] = new StageView(name, stage.GetProperty("in").GetProperty("packets").GetInt64(),
                stage.GetProperty("out").GetProperty("packets").GetInt64(), dropped, events);
        }

        return new PipelineView(p.GetProperty("state").GetString()!, p.GetProperty("source").GetProperty("up").GetBoolean(),
            p.GetProperty("captured").GetInt64(), p.GetProperty("balanced").GetBoolean(), stages);
    }
}

public sealed record StageView(string Stage, long In, long Out, IReadOnlyDictionary<string, long> Dropped, IReadOnlyDictionary<string, long> Events)
{
    public long DroppedTotal => Dropped.Values.Sum();

    public string Describe() =>
        $"{Stage}: in {In} out {Out} dropped {{{string.Join(", ", Dropped.Where(d => d.Value > 0).Select(d => $"{d.Key} {d.Value}"))}}} events {{{string.Join(", ", Events.Select(e => $"{e.Key} {e.Value}"))}}}";
}
