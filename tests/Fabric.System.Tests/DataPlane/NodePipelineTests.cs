using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Xunit;

namespace Fabric.System.Tests.DataPlane;

/// <summary>
/// A real fabric-node process (role capture) with a live pipeline into a rotating PCAP sink: the management
/// routes, /metrics, the console's `fabric pipelines`, and kill -9 in the middle of writing followed by a
/// restart, after which every file is readable by tcpdump. Needs root.
/// </summary>
[Collection(DataPlaneCollection.Name)]
public sealed class NodePipelineTests(DataPlaneFixture net)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("pcap")]
    [InlineData("pcapng")]
    public async Task Node_serves_pipeline_stats_and_after_kill_9_and_restart_every_pcap_file_is_readable(string format)
    {
        string files = $"live-*.{format}";
        string root = Path.Combine(net.Directory, "node-" + Guid.NewGuid().ToString("N")[..6]);
        string pcap = Path.Combine(root, "pcap");
        Directory.CreateDirectory(root);
        int http = FreePort(), remoting = FreePort();
        string config = Path.Combine(root, "node.conf");
        await File.WriteAllTextAsync(config, $$"""
            akka.cluster.roles = [capture]
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = {{remoting}} }
            fabric {
              data-dir = "{{root}}"
              management.http { host = 127.0.0.1, port = {{http}} }
              pipelines = [ {
                name = live
                source { interface = {{net.CaptureInterface}} }
                sinks = [ { type = pcap, format = {{format}}, directory = "{{pcap}}", rotate-size = 64KiB, flush-interval = 100ms } ]
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
        using (var node = StartNode(config, Path.Combine(root, "node-1.log")))
        {
            try
            {
                WaitForPipeline(client, node);
                using var sending = new CancellationTokenSource();
                var sender = Task.Run(() =>
                {
                    while (!sending.IsCancellationRequested)
                    {
                        net.SendInner(200, 200, 900);
                    }
                });
                try
                {
                    Shell.WaitUntil(() => Directory.GetFiles(pcap, files).Length >= 4, Timeout,
                        () => $"{Directory.GetFiles(pcap).Length} files");

                    // The routes, the console and /metrics see the same counters.
                    var stats = JsonDocument.Parse(await client.GetStringAsync("pipelines/live/stats")).RootElement.GetProperty("pipelines")[0];
                    Assert.Equal("running", stats.GetProperty("state").GetString());
                    Assert.True(stats.GetProperty("captured").GetInt64() > 0);
                    var list = RunConsole(http, "pipelines", "list", "--json");
                    Assert.Equal("live", JsonDocument.Parse(list).RootElement.GetProperty("pipelines")[0].GetProperty("name").GetString());
                    string metrics = await client.GetStringAsync("metrics");
                    Assert.Contains("fabric_pipeline_packets_total{pipeline=\"live\",stage=\"capture\",direction=\"in\"}", metrics, StringComparison.Ordinal);
                    var unknown = await client.GetAsync("pipelines/nope/stats");
                    Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

                    // kill -9 while the sink is writing.
                    Shell.Run("kill", $"-KILL {node.Id}");
                    Assert.True(node.WaitForExit(10_000));
                }
                finally
                {
                    await sending.CancelAsync();
                    await sender;
                }
            }
            finally
            {
                if (!node.HasExited)
                {
                    node.Kill();
                }
            }
        }

        int before = Directory.GetFiles(pcap, files).Length;
        using (var node = StartNode(config, Path.Combine(root, "node-2.log")))
        {
            try
            {
                WaitForPipeline(client, node);
                var written = Directory.GetFiles(pcap, files);
                Assert.True(written.Length >= before, $"{written.Length} files after restart, {before} before");
                long frames = 0;
                foreach (var file in written)
                {
                    // An independent reader of each format: tcpdump for classic pcap, tshark for pcapng
                    // (which says "cut short in the middle of a packet" for a torn last block).
                    var (exit, output, error) = format == "pcapng" ? Read("tshark", "-n", "-r", file) : Read("tcpdump", "-n", "-r", file);
                    Assert.True(exit == 0 && !error.Contains("truncated", StringComparison.OrdinalIgnoreCase)
                        && !error.Contains("cut short", StringComparison.OrdinalIgnoreCase), $"{file}: exit {exit}: {error}");
                    frames += output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
                }

                Assert.True(frames > 0);
                var stopped = await client.PostAsync("pipelines/live/stop", null);
                Assert.Equal(HttpStatusCode.OK, stopped.StatusCode);
                var state = JsonDocument.Parse(await client.GetStringAsync("pipelines")).RootElement.GetProperty("pipelines")[0].GetProperty("state").GetString();
                Assert.Equal("stopped", state);
            }
            finally
            {
                Shell.Run("kill", $"-TERM {node.Id}", check: false);
                if (!node.WaitForExit(20_000))
                {
                    node.Kill();
                }
            }
        }
    }

    /// <summary>The node with its output in <paramref name="log"/> (closed by Dispose after the node's last line, never on exit).</summary>
    private static CapturedProcess StartNode(string config, string log) =>
        FabricNodeLauncher.Start(config, Path.GetDirectoryName(config)!, logFile: log);

    private static void WaitForPipeline(HttpClient client, CapturedProcess node) =>
        Shell.WaitUntil(() =>
        {
            Assert.False(node.HasExited, $"fabric-node exited with {(node.HasExited ? node.ExitCode : 0)}");
            try
            {
                var body = client.GetStringAsync("pipelines/live/stats").GetAwaiter().GetResult();
                var p = JsonDocument.Parse(body).RootElement.GetProperty("pipelines")[0];
                return p.GetProperty("state").GetString() == "running" && p.GetProperty("source").GetProperty("up").GetBoolean();
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }, Timeout, () => "pipeline live not running on the node");

    private static string RunConsole(int port, params string[] arguments)
    {
        var info = new ProcessStartInfo(TestPaths.PublishedConsole, ["--node", $"http://127.0.0.1:{port}", .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"fabric {string.Join(' ', arguments)}: exit {process.ExitCode}: {error}");
        return output;
    }

    private static (int Exit, string Output, string Error) Read(string tool, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(tool, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error.Result);
    }

    private static int FreePort() => Ports.Free();
}
