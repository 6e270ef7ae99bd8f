using System.Diagnostics;
using System.Globalization;
using Fabric.System.Tests.DataPlane;
using Fabric.System.Tests.Reliability;
using Fabric.Tests;
using Xunit;

namespace Fabric.System.Tests.NodeStream;

/// <summary>
/// Three fabric-node processes, each in a network namespace of its own, made once for <see cref="StreamTests"/>
/// (everything removed after the last test, also when they fail; nodes killed by pid):
/// <list type="bullet">
/// <item><c>fs&lt;id&gt;s</c>, the sender: a kernel VXLAN device (VNI 42) whose packets cross the veth
/// <c>fs&lt;id&gt;p</c>/<c>fs&lt;id&gt;c</c> into node A's namespace;</item>
/// <item><c>fs&lt;id&gt;a</c>: node A, pipeline <c>edge</c>: live capture of <c>fs&lt;id&gt;c</c>, decap, a PCAP sink
/// (ns timestamps: what A decapsulated) and two stream sinks, to B and to C;</item>
/// <item><c>fs&lt;id&gt;b</c>, joined to A by the veth <c>fs&lt;id&gt;l</c>/<c>fs&lt;id&gt;m</c> (the link the tests
/// cut): node B, pipeline <c>central</c>: stream source on 7400, a TAP and a PCAP sink; and node C, certificate from
/// another CA, stream source on 7401. The root namespace reaches B's listener over a third veth
/// (<c>fs&lt;id&gt;h</c>/<c>fs&lt;id&gt;k</c>), for the hostile-peer tests.</item>
/// </list>
/// A, B (and the hostile client) have certificates of one CA; C's is of another.
/// </summary>
public sealed class StreamFixture : IDisposable
{
    private readonly List<string> _namespaces = [];
    private readonly List<CapturedProcess> _nodes = [];

    public StreamFixture()
    {
        Id = Random.Shared.Next(0x1000, 0xFFFF).ToString("x4", CultureInfo.InvariantCulture);
        Subnet = Random.Shared.Next(16, 250);
        Directory = global::System.IO.Directory.CreateTempSubdirectory("fs-stream-").FullName;
        try
        {
            foreach (var ns in new[] { SenderNs, ANs, BNs })
            {
                Shell.Ip($"netns add {ns}");
                _namespaces.Add(ns);
                Shell.InNamespace(ns, "sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
                Shell.InNamespace(ns, "ip link set lo up");
            }

            CreateLinks();
            CreateCertificates();
            A = StartNode("a", ANs, $$"""
                pipelines = [ {
                  name = edge
                  source { interface = {{CaptureInterface}} }
                  sinks = [
                    { type = pcap, directory = "{{APcap}}", precision = ns, flush-interval = 100ms, when-full = wait }
                    { type = stream, destination = "{{BAddress}}:7400", compression = lz4 }
                    { type = stream, destination = "{{BAddress}}:7401", max-backoff = 1s }
                  ]
                } ]
                """, "a", "ca");
            B = StartNode("b", BNs, $$"""
                pipelines = [ {
                  name = central
                  source { stream { listen = "0.0.0.0:7400" } }
                  decap { non-encapsulated = pass }
                  sinks = [
                    { type = tap, device = {{Tap}}, when-full = wait }
                    { type = pcap, directory = "{{BPcap}}", precision = ns, flush-interval = 100ms, when-full = wait }
                  ]
                } ]
                """, "b", "ca");
            C = StartNode("c", BNs, """
                pipelines = [ {
                  name = rogue
                  source { stream { listen = "0.0.0.0:7401" } }
                  decap { non-encapsulated = pass }
                  sinks = [ { type = pcap, directory = "ROGUE" } ]
                } ]
                """.Replace("ROGUE", Path.Combine(Directory, "c-pcap"), StringComparison.Ordinal), "c", "other-ca");
            foreach (var node in new[] { A, B, C })
            {
                node.WaitRunning();
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Id { get; }

    public int Subnet { get; }

    public string Directory { get; }

    public string SenderNs => $"fs{Id}s";

    public string ANs => $"fs{Id}a";

    public string BNs => $"fs{Id}b";

    public string CaptureInterface => $"fs{Id}c";

    /// <summary>A's end of the A-B link (the one the cut test sets down).</summary>
    public string ALink => $"fs{Id}l";

    public string Tap => $"fs{Id}t";

    public string BAddress => $"10.{Subnet}.2.2";

    /// <summary>B's address on the root namespace's link (the hostile client's way in).</summary>
    public string BHostileAddress => $"10.{Subnet}.3.2";

    public string InnerPeer => $"192.168.{Subnet}.2";

    public string APcap => Path.Combine(Directory, "a-pcap");

    public string BPcap => Path.Combine(Directory, "b-pcap");

    public Node A { get; } = null!;

    public Node B { get; } = null!;

    public Node C { get; } = null!;

    public string Certificate(string name) => Path.Combine(Directory, name + ".crt");

    public string Key(string name) => Path.Combine(Directory, name + ".key");

    /// <summary>The sender sends <paramref name="count"/> UDP datagrams through its VXLAN device (sizes 64, 512, 1300).
    /// With <paramref name="random"/>, 1,300 random bytes each (incompressible: LZ4 cannot make them small).</summary>
    public void SendInner(int count, int first = 0, bool random = false)
    {
        string payload = random ? "os.urandom(1300)" : "bytes([i % 256]) * sizes[i % 3]";
        string script = "import os,socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);sizes=[64,512,1300];"
            + $"[s.sendto({payload}, ('{InnerPeer}', 5000 + i % 1000)) for i in range({first}, {first + count})]";
        Shell.InNamespace(SenderNs, $"python3 -c \"{script}\"");
    }

    private void CreateLinks()
    {
        // Sender -> A: the VXLAN tunnel goes to 10.x.1.3 behind a MAC nobody has; A's side captures it promiscuously.
        Shell.Ip($"link add fs{Id}p netns {SenderNs} type veth peer name {CaptureInterface} netns {ANs}");
        Shell.InNamespace(ANs, $"ip addr add 10.{Subnet}.1.1/24 dev {CaptureInterface}");
        Shell.InNamespace(ANs, $"ip link set {CaptureInterface} mtu 9000 up");
        Shell.InNamespace(SenderNs, $"ip addr add 10.{Subnet}.1.2/24 dev fs{Id}p");
        Shell.InNamespace(SenderNs, $"ip link set fs{Id}p mtu 9000 up");
        Shell.InNamespace(SenderNs, $"ip neigh replace 10.{Subnet}.1.3 lladdr 02:fd:00:00:00:01 dev fs{Id}p nud permanent");
        Shell.InNamespace(SenderNs, $"ip link add fs{Id}x type vxlan id 42 remote 10.{Subnet}.1.3 local 10.{Subnet}.1.2 dstport 4789 dev fs{Id}p");
        Shell.InNamespace(SenderNs, $"ip addr add 192.168.{Subnet}.1/24 dev fs{Id}x");
        Shell.InNamespace(SenderNs, $"ip link set fs{Id}x up");
        Shell.InNamespace(SenderNs, $"ip neigh replace {InnerPeer} lladdr 02:fd:00:00:00:02 dev fs{Id}x nud permanent");

        // A <-> B: the stream's link.
        Shell.Ip($"link add {ALink} netns {ANs} type veth peer name fs{Id}m netns {BNs}");
        Shell.InNamespace(ANs, $"ip addr add 10.{Subnet}.2.1/24 dev {ALink}");
        Shell.InNamespace(ANs, $"ip link set {ALink} up");
        Shell.InNamespace(BNs, $"ip addr add {BAddress}/24 dev fs{Id}m");
        Shell.InNamespace(BNs, $"ip link set fs{Id}m up");

        // Root <-> B: only for the hostile client of the tests.
        Shell.Ip($"link add fs{Id}h type veth peer name fs{Id}k netns {BNs}");
        Shell.Run("sh", $"-c \"echo 1 > /proc/sys/net/ipv6/conf/fs{Id}h/disable_ipv6\"");
        Shell.Ip($"addr add 10.{Subnet}.3.1/24 dev fs{Id}h");
        Shell.Ip($"link set fs{Id}h up");
        Shell.InNamespace(BNs, $"ip addr add {BHostileAddress}/24 dev fs{Id}k");
        Shell.InNamespace(BNs, $"ip link set fs{Id}k up");
    }

    private void CreateCertificates()
    {
        foreach (var ca in new[] { "ca", "other-ca" })
        {
            OpenSsl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", Key(ca), "-out", Certificate(ca),
                "-days", "30", "-subj", $"/CN=fabric-test-{ca}");
        }

        File.WriteAllText(Path.Combine(Directory, "node.ext"), "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n");
        foreach (var (name, ca) in new[] { ("a", "ca"), ("b", "ca"), ("c", "other-ca"), ("hostile", "ca") })
        {
            string csr = Path.Combine(Directory, name + ".csr");
            OpenSsl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", Key(name), "-out", csr, "-subj", $"/CN=node-{name}");
            OpenSsl("x509", "-req", "-in", csr, "-CA", Certificate(ca), "-CAkey", Key(ca), "-CAcreateserial", "-out", Certificate(name), "-days", "30",
                "-extfile", Path.Combine(Directory, "node.ext"));
        }

        foreach (var key in global::System.IO.Directory.GetFiles(Directory, "*.key"))
        {
            File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private void OpenSsl(params string[] arguments)
    {
        var info = new ProcessStartInfo("openssl") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Directory };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"openssl {string.Join(' ', arguments)}: {error} {output.Result}");
        }
    }

    private Node StartNode(string name, string ns, string pipelines, string certificate, string ca)
    {
        string root = Path.Combine(Directory, "node-" + name);
        global::System.IO.Directory.CreateDirectory(root);
        int http = Ports.Free(), remoting = Ports.Free();
        string config = Path.Combine(root, "node.conf");
        File.WriteAllText(config, $$"""
            akka.cluster.roles = [capture]
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = {{remoting}} }
            fabric {
              data-dir = "{{root}}"
              management.http { host = 127.0.0.1, port = {{http}} }
              remote.tls {
                enabled = true
                certificate-file = "{{Certificate(certificate)}}"
                key-file = "{{Key(certificate)}}"
                ca-file = "{{Certificate(ca)}}"
              }
              {{pipelines}}
            }
            akka.discovery.config.services.fabric-local.endpoints = [ "127.0.0.1:{{http}}" ]
            akka.management.cluster.bootstrap.contact-point-discovery {
              service-name = fabric-local
              discovery-method = config
              required-contact-point-nr = 1
            }
            """);
        var process = FabricNodeLauncher.Start(config, root, prefix: ["ip", "netns", "exec", ns], logFile: Path.Combine(root, "node.log"));
        _nodes.Add(process);
        return new Node(name, ns, http, process, Path.Combine(root, "node.log"));
    }

    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            node.Dispose();
        }

        foreach (var ns in _namespaces)
        {
            Shell.Ip($"netns del {ns}", check: false);
        }

        Shell.Ip($"link del fs{Id}h", check: false);
        try
        {
            global::System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // a file still open by an exiting process: the temp cleaner removes it
        }
    }

    /// <summary>One node: its namespace, management port and process.</summary>
    public sealed record Node(string Name, string Namespace, int Http, CapturedProcess Process, string Log)
    {
        /// <summary>GET on the node's management HTTP, from inside its namespace.</summary>
        public string Get(string path) => Shell.InNamespace(Namespace, $"curl -sf --max-time 5 http://127.0.0.1:{Http}/{path}");

        public PipelineView Stats(string pipeline) => PipelineView.Parse(Get($"pipelines/{pipeline}/stats"));

        public void WaitRunning() => Shell.WaitUntil(() =>
        {
            Assert.False(Process.HasExited, $"node {Name} exited: {Process.Output}");
            var body = Shell.InNamespace(Namespace, $"curl -sf --max-time 5 http://127.0.0.1:{Http}/pipelines", check: false);
            return body.Contains("\"running\"", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(90), () => $"node {Name} has no running pipeline: {Process.Output}");
    }
}

[CollectionDefinition(Name)]
public sealed class StreamCollection : ICollectionFixture<StreamFixture>
{
    public const string Name = "stream (three nodes in namespaces)";
}
