using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using Fabric.Configuration;
using Fabric.Actors.Pipelines;
using Xunit;

namespace Fabric.System.Tests.DataPlane;

/// <summary>
/// The real parts the data-plane tests share (created once, removed after the last test, also when tests fail):
/// <list type="bullet">
/// <item>namespace <c>fd&lt;id&gt;a</c> ("the sender") joined by a veth pair to the root namespace, where the
/// pipeline captures on <see cref="CaptureInterface"/>; in it a kernel VXLAN device (VNI 42, to the root side)
/// that encapsulates whatever the namespace sends to <see cref="InnerPeer"/>;</item>
/// <item>namespace <c>fd&lt;id&gt;b</c> ("the collector") joined by a second veth pair, with a kernel VXLAN
/// device (VNI 77) that receives what a forwarder sends to <see cref="CollectorAddress"/>;</item>
/// <item>an ActorSystem for in-process pipelines, and a temporary directory.</item>
/// </list>
/// IPv6 is off on every link so the kernel adds no traffic of its own; neighbours are static.
/// </summary>
public sealed class DataPlaneFixture : IDisposable
{
    public const int SenderVni = 42;
    public const int CollectorVni = 77;

    private readonly List<string> _namespaces = [];
    private int _pipelines;

    public DataPlaneFixture()
    {
        Id = Random.Shared.Next(0x1000, 0xFFFF).ToString("x4", CultureInfo.InvariantCulture);
        int subnet = Random.Shared.Next(16, 250);
        Subnet = subnet;
        SenderNamespace = $"fd{Id}a";
        CollectorNamespace = $"fd{Id}b";
        CaptureInterface = $"fd{Id}c";
        SenderVeth = $"fd{Id}p";
        SenderVxlan = $"fd{Id}x";
        CollectorRootVeth = $"fd{Id}f";
        CollectorVeth = $"fd{Id}g";
        CollectorVxlan = $"fd{Id}y";
        Directory = global::System.IO.Directory.CreateTempSubdirectory("fd-dataplane-").FullName;
        try
        {
            foreach (var ns in new[] { SenderNamespace, CollectorNamespace })
            {
                Shell.Ip($"netns add {ns}");
                _namespaces.Add(ns);
                Shell.InNamespace(ns, "sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
                Shell.InNamespace(ns, "ip link set lo up");
            }

            CreateSenderLinks();
            CreateCollectorLinks();
            System = ActorSystem.Create("fd-dataplane", ConfigurationFactory.ParseString("akka.loglevel = INFO"));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Id { get; }

    public int Subnet { get; }

    public string SenderNamespace { get; }

    public string CollectorNamespace { get; }

    /// <summary>Root side of the sender's veth: the pipeline's source.</summary>
    public string CaptureInterface { get; }

    public string SenderVeth { get; }

    public string SenderVxlan { get; }

    public string CollectorRootVeth { get; }

    public string CollectorVeth { get; }

    public string CollectorVxlan { get; }

    /// <summary>Inner address behind the sender's VXLAN device (static neighbour, nobody answers).</summary>
    public string InnerPeer => $"192.168.{Subnet}.2";

    public string CollectorAddress => $"10.{Subnet}.2.2";

    public string Directory { get; }

    public ActorSystem System { get; } = null!;

    /// <summary>A fresh TAP name for one test.</summary>
    public string NewTapName() => $"fd{Id}t{Interlocked.Increment(ref _pipelines)}";

    /// <summary>Starts a pipeline manager with one pipeline given as HOCON (the inside of one list entry).</summary>
    public IActorRef StartPipeline(string pipeline)
    {
        var config = ConfigurationFactory.ParseString("fabric.pipelines = [ {\n" + pipeline + "\n} ]").WithFallback(FabricConfig.Reference);
        var settings = PipelineSettingsReader.Read(config);
        return System.ActorOf(PipelineManager.Props(settings), $"pipelines-{Interlocked.Increment(ref _pipelines)}");
    }

    public static PipelineStats Stats(IActorRef manager) =>
        manager.Ask<PipelineStatsReply>(new GetPipelineStats(null), TimeSpan.FromSeconds(5)).GetAwaiter().GetResult().Pipelines.Single();

    /// <summary>Stops the manager (and its pipelines) and waits until it is gone.</summary>
    public void Stop(IActorRef manager) =>
        manager.GracefulStop(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();

    /// <summary>The sender namespace sends <paramref name="count"/> UDP datagrams to the inner peer through its
    /// VXLAN device, of sizes cycling through <paramref name="sizes"/>.</summary>
    public void SendInner(int count, params int[] sizes)
    {
        string sizeList = string.Join(",", sizes.Length == 0 ? [64, 512, 1300] : sizes);
        string script = "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);sizes=[" + sizeList + "];"
            + $"[s.sendto(bytes([i % 256]) * sizes[i % len(sizes)], ('{InnerPeer}', 5000 + i)) for i in range({count})]";
        Shell.InNamespace(SenderNamespace, $"python3 -c \"{script}\"");
    }

    /// <summary>(Re-)creates the sender's veth pair and VXLAN device (after a test deleted them).</summary>
    public void CreateSenderLinks()
    {
        Shell.Ip($"link add {CaptureInterface} type veth peer name {SenderVeth}");
        Shell.Run("sh", $"-c \"echo 1 > /proc/sys/net/ipv6/conf/{CaptureInterface}/disable_ipv6\"");
        Shell.Ip($"link set {SenderVeth} netns {SenderNamespace}");
        Shell.Ip($"addr add 10.{Subnet}.1.1/24 dev {CaptureInterface}");
        Shell.Ip($"link set {CaptureInterface} mtu 9000 up");
        // The tunnel goes to 10.x.1.3 behind a MAC nobody has: the root namespace receives the frames as
        // PACKET_OTHERHOST and answers nothing (no ARP, no ICMP), so only the sender's traffic crosses the
        // veth, and the capture (promiscuous) sees it.
        Shell.InNamespace(SenderNamespace, $"ip addr add 10.{Subnet}.1.2/24 dev {SenderVeth}");
        Shell.InNamespace(SenderNamespace, $"ip link set {SenderVeth} mtu 9000 up");
        Shell.InNamespace(SenderNamespace, $"ip neigh replace 10.{Subnet}.1.3 lladdr 02:fd:00:00:00:01 dev {SenderVeth} nud permanent");
        Shell.InNamespace(SenderNamespace, $"ip link add {SenderVxlan} type vxlan id {SenderVni} remote 10.{Subnet}.1.3 local 10.{Subnet}.1.2 dstport 4789 dev {SenderVeth}");
        Shell.InNamespace(SenderNamespace, $"ip addr add 192.168.{Subnet}.1/24 dev {SenderVxlan}");
        Shell.InNamespace(SenderNamespace, $"ip link set {SenderVxlan} up");
        Shell.InNamespace(SenderNamespace, $"ip neigh replace {InnerPeer} lladdr 02:fd:00:00:00:02 dev {SenderVxlan} nud permanent");
    }

    /// <summary>Removes the root side of the sender's veth (its peer and the VXLAN device go with it).</summary>
    public void DeleteSenderLinks()
    {
        Shell.Ip($"link del {CaptureInterface}", check: false);
        Shell.InNamespace(SenderNamespace, $"ip link del {SenderVxlan}", check: false);
    }

    private void CreateCollectorLinks()
    {
        Shell.Ip($"link add {CollectorRootVeth} type veth peer name {CollectorVeth}");
        Shell.Run("sh", $"-c \"echo 1 > /proc/sys/net/ipv6/conf/{CollectorRootVeth}/disable_ipv6\"");
        Shell.Ip($"link set {CollectorVeth} netns {CollectorNamespace}");
        Shell.Ip($"addr add 10.{Subnet}.2.1/24 dev {CollectorRootVeth}");
        Shell.Ip($"link set {CollectorRootVeth} mtu 9000 up");
        string rootMac = File.ReadAllText($"/sys/class/net/{CollectorRootVeth}/address").Trim();
        Shell.InNamespace(CollectorNamespace, $"ip addr add {CollectorAddress}/24 dev {CollectorVeth}");
        Shell.InNamespace(CollectorNamespace, $"ip link set {CollectorVeth} mtu 9000 up");
        Shell.InNamespace(CollectorNamespace, $"ip neigh replace 10.{Subnet}.2.1 lladdr {rootMac} dev {CollectorVeth} nud permanent");
        string collectorMac = Shell.InNamespace(CollectorNamespace, $"cat /sys/class/net/{CollectorVeth}/address").Trim();
        Shell.Ip($"neigh replace {CollectorAddress} lladdr {collectorMac} dev {CollectorRootVeth} nud permanent");
        Shell.InNamespace(CollectorNamespace, $"ip link add {CollectorVxlan} type vxlan id {CollectorVni} local {CollectorAddress} dstport 4789 dev {CollectorVeth}");
        Shell.InNamespace(CollectorNamespace, $"ip link set {CollectorVxlan} up");
    }

    public void Dispose()
    {
        System?.Terminate().Wait(TimeSpan.FromSeconds(10));
        DeleteSenderLinks();
        Shell.Ip($"link del {CollectorRootVeth}", check: false);
        foreach (var ns in _namespaces)
        {
            Shell.Ip($"netns del {ns}", check: false);
        }

        foreach (var tap in global::System.IO.Directory.GetDirectories("/sys/class/net", $"fd{Id}t*"))
        {
            Shell.Ip($"link del {Path.GetFileName(tap)}", check: false);
        }

        global::System.IO.Directory.Delete(Directory, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class DataPlaneCollection : ICollectionFixture<DataPlaneFixture>
{
    public const string Name = "data plane (namespaces, veths, taps)";
}
