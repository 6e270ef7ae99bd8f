using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.System.Tests.DataPlane;

/// <summary>
/// Issue 16's collapse under contention: with two busy loops at normal priority on a machine this size, a
/// fabric-node whose data-plane threads ran at nice 0 on the shared thread pool (its TAP writer starved in the
/// run queue while capture waited for it and the kernel ring overflowed) delivered a fraction of what tcpdump
/// did. Here, under two busy loops at nice 0 (processes started and killed by pid), the same tcpreplay of an
/// ERSPAN II IMIX capture at top speed goes into the veth once for <c>tcpdump -w /dev/null</c> and once for a
/// real fabric-node (capture → decap → TAP), back to back. tcpdump runs at the nice Fabric's data plane asks
/// for by default (-10, <see cref="ReferenceNice"/>), as a unit's Nice= would run it: like with like, and a
/// reference that other work on a shared machine does not starve. Fabric must stay within
/// <c>loss ≤ max(2 × tcpdump's, tcpdump's + 5 points)</c> and deliver at least 0.8 × what tcpdump delivered.
/// Both are measured in the same attempt, so a loaded machine loads both; the best of three attempts counts, so
/// one unlucky slice cannot fail it. The old behaviour fails it: set FABRIC_CONTENTION_NICE=null (the
/// pipeline's <c>nice = null</c>: threads left at nice 0 on the shared dispatcher). Needs root and tcpreplay.
/// </summary>
[Collection(DataPlaneCollection.Name)]
public sealed partial class ContentionTests(DataPlaneFixture net, ITestOutputHelper output)
{
    private const int Packets = 500_000;
    private const int Attempts = 3;

    /// <summary>tcpdump's nice: the default of <c>fabric.pipelines[].nice</c>.</summary>
    private const int ReferenceNice = -10;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Under_two_equal_priority_busy_loops_fabric_loses_no_more_than_twice_what_tcpdump_loses()
    {
        string root = Path.Combine(net.Directory, "contention-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(root);
        string capture = Path.Combine(root, "erspan-imix.pcap");
        Shell.Run("python3", $"{Path.Combine(TestPaths.RepoRoot, "bench", "gen-erspan-imix.py")} {capture} {Packets}");
        string tap = net.NewTapName();
        string nice = Environment.GetEnvironmentVariable("FABRIC_CONTENTION_NICE") is { Length: > 0 } value ? $"nice = {value}" : string.Empty;
        int http = Ports.Free(), remoting = Ports.Free();
        string config = Path.Combine(root, "node.conf");
        await File.WriteAllTextAsync(config, $$"""
            akka.cluster.roles = [capture]
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = {{remoting}} }
            fabric {
              data-dir = "{{root}}"
              management.http { host = 127.0.0.1, port = {{http}} }
              pipelines = [ {
                name = live
                autostart = off
                {{nice}}
                source { interface = {{net.CaptureInterface}} }
                sinks = [ { type = tap, device = {{tap}} } ]
              } ]
            }
            akka.discovery.config.services.fabric-local.endpoints = [ "127.0.0.1:{{http}}" ]
            akka.management.cluster.bootstrap.contact-point-discovery {
              service-name = fabric-local
              discovery-method = config
              required-contact-point-nr = 1
            }
            """);

        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}/"), Timeout = TimeSpan.FromSeconds(5) };
        using var node = FabricNodeLauncher.Start(config, root, logFile: Path.Combine(root, "node.log"));
        var busy = new List<Process>();
        try
        {
            Shell.WaitUntil(() => !node.HasExited && Answers(client), Timeout, () => $"fabric-node did not answer: {node.Output}");
            for (int i = 0; i < 2; i++)
            {
                busy.Add(Process.Start(new ProcessStartInfo("sh", ["-c", "while :; do :; done"])) ?? throw new InvalidOperationException("cannot start a busy loop"));
            }

            Thread.Sleep(1000); // the loops own the CPUs before the first replay
            await RunFabricAsync(client, node, tap, capture); // warm-up, not counted: the node's first pipeline run (JIT, first TAP open)
            var attempts = new List<string>();
            bool passed = false;
            for (int attempt = 1; attempt <= Attempts && !passed; attempt++)
            {
                var (tcpdumpOffered, tcpdumpDelivered) = RunTcpdump(capture, root);
                var (fabricOffered, fabricDelivered, kernelDropped) = await RunFabricAsync(client, node, tap, capture);
                double tcpdumpLoss = Loss(tcpdumpOffered, tcpdumpDelivered), fabricLoss = Loss(fabricOffered, fabricDelivered);
                double bound = Math.Max(2 * tcpdumpLoss, tcpdumpLoss + 5);
                passed = fabricLoss <= bound && fabricDelivered >= 0.8 * tcpdumpDelivered;
                string line = string.Create(CultureInfo.InvariantCulture,
                    $"attempt {attempt}: tcpdump {tcpdumpDelivered}/{tcpdumpOffered} (loss {tcpdumpLoss:F1} %), fabric {fabricDelivered}/{fabricOffered} (loss {fabricLoss:F1} %, kernel-dropped {kernelDropped}; bound {bound:F1} %), load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
                attempts.Add(line);
                output.WriteLine(line);
            }

            Assert.True(passed, "Fabric lost more than max(2 x tcpdump's, tcpdump's + 5 points), or delivered under 0.8 x tcpdump's, in every attempt:\n"
                + string.Join('\n', attempts));
        }
        finally
        {
            foreach (var loop in busy)
            {
                Shell.Run("kill", $"-KILL {loop.Id}", check: false);
                loop.WaitForExit(5000);
                loop.Dispose();
            }

            Shell.Ip($"link del {tap}", check: false);
        }
    }

    private (long Offered, long Delivered) RunTcpdump(string capture, string root)
    {
        using var tcpdump = new Tcpdump(net.CaptureInterface, "/dev/null", nice: ReferenceNice);
        long offered = Replay(capture);
        Thread.Sleep(1000); // tcpdump reads what is left in its ring
        tcpdump.Stop();
        var captured = CapturedLine().Match(tcpdump.Output);
        Assert.True(captured.Success, $"tcpdump said: {tcpdump.Output}");
        File.WriteAllText(Path.Combine(root, "tcpdump.out"), tcpdump.Output);
        return (offered, long.Parse(captured.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    private async Task<(long Offered, long Delivered, long KernelDropped)> RunFabricAsync(HttpClient client, CapturedProcess node, string tap, string capture)
    {
        (await client.PostAsync("pipelines/live/start", null)).EnsureSuccessStatusCode();
        try
        {
            Shell.WaitUntil(() =>
            {
                Assert.False(node.HasExited, $"fabric-node exited: {node.Output}");
                return Stats(client) is { } s && s.GetProperty("source").GetProperty("up").GetBoolean() && File.Exists($"/sys/class/net/{tap}/statistics/rx_packets");
            }, Timeout, () => $"the pipeline did not come up: {node.Output}");
            long before = RxPackets(tap);
            long offered = Replay(capture);
            // Until the TAP has stopped receiving (the pipeline has drained its ring and queues).
            long last = -1, now = RxPackets(tap);
            var drain = Stopwatch.StartNew();
            while (now != last && drain.Elapsed < Timeout)
            {
                last = now;
                Thread.Sleep(1000);
                now = RxPackets(tap);
            }

            long kernelDropped = Stats(client)?.GetProperty("source").GetProperty("kernelDropped").GetInt64() ?? -1;
            return (offered, now - before, kernelDropped);
        }
        finally
        {
            await client.PostAsync("pipelines/live/stop", null);
        }
    }

    /// <summary>tcpreplay at top speed from the sender namespace, at nice -15 so that the offered load does not
    /// slow down with the busy machine (a NIC's would not); returns the packets it sent.</summary>
    private long Replay(string capture)
    {
        string result = Shell.Run("nice", $"-n -15 ip netns exec {net.SenderNamespace} tcpreplay --topspeed -i {net.SenderVeth} {capture}");
        var sent = SentLine().Match(result);
        Assert.True(sent.Success, $"tcpreplay said: {result}");
        return long.Parse(sent.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static double Loss(long offered, long delivered) => offered == 0 ? 100 : Math.Max(0, offered - delivered) * 100.0 / offered;

    private static long RxPackets(string device) =>
        long.Parse(File.ReadAllText($"/sys/class/net/{device}/statistics/rx_packets").Trim(), CultureInfo.InvariantCulture);

    private static bool Answers(HttpClient client) => Stats(client) is not null;

    private static JsonElement? Stats(HttpClient client)
    {
        try
        {
            return JsonDocument.Parse(client.GetStringAsync("pipelines/live/stats").GetAwaiter().GetResult()).RootElement.GetProperty("pipelines")[0];
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (TaskCanceledException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"(\d+) packets captured")]
    private static partial Regex CapturedLine();

    [GeneratedRegex(@"Successful packets:\s+(\d+)")]
    private static partial Regex SentLine();
}
