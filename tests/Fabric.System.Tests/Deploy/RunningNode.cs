using System.Diagnostics;
using System.Text;

namespace Fabric.System.Tests.Deploy;

/// <summary>
/// One fabric-node process (the build next to the test assembly) on free loopback ports, with a
/// pipeline replaying a corpus capture into a PCAP sink and a mirror session at a <c>tc</c> site
/// whose devices do not exist (so it reports a health), for the metrics and console tests.
/// Dispose kills it by pid and deletes its directory.
/// </summary>
public sealed class RunningNode : IAsyncLifetime
{
    private readonly StringBuilder _output = new();
    private CapturedProcess? _process;

    public RunningNode()
    {
        Directory = global::System.IO.Directory.CreateTempSubdirectory("fp-node-").FullName;
        ManagementPort = Run.FreePort();
        RemotePort = Run.FreePort();
        TrafficPort = Run.FreePort();
    }

    /// <summary>UDP port on loopback that the live pipeline <c>loop</c> captures (send to it with <see cref="SendTraffic"/>).</summary>
    public int TrafficPort { get; }

    public string Directory { get; }

    public int ManagementPort { get; }

    public int RemotePort { get; }

    public string Url => $"http://127.0.0.1:{ManagementPort}";

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
        var corpus = Run.Corpus("tcpdump/vxlan.pcap");
        var config = Path.Combine(Directory, "node.conf");
        await File.WriteAllTextAsync(config, $$"""
            fabric.data-dir = "{{Directory}}/data"
            fabric.management.http { host = 127.0.0.1, port = {{ManagementPort}} }
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = {{RemotePort}} }
            akka.cluster.roles = [capture, supervisor, site-lab]
            fabric.pipelines = [
              {
                name = replay
                source { file = "{{corpus}}", speed = original }
                sinks = [ { type = pcap, directory = "{{Directory}}/pcap" } ]
              }
              {
                name = loop
                source { interface = lo, filter = "udp dst port {{TrafficPort}}" }
                sinks = [ { type = pcap, directory = "{{Directory}}/pcap-loop" } ]
              }
            ]
            fabric.sites = [ { name = lab, backend = tc } ]
            fabric.mirrors = [ { name = lab-mirror, site = lab, sources = [fpx-absent0], output = fpx-absent1 } ]
            """);
        _process = FabricNodeLauncher.Start(config, Directory, Append);

        using var http = Http();
        await Run.UntilAsync(
            async () => _process.HasExited
                ? throw new InvalidOperationException($"fabric-node exited with {_process.ExitCode}:\n{Output}")
                : (await http.GetAsync(new Uri("/ready", UriKind.Relative))).IsSuccessStatusCode,
            TimeSpan.FromMinutes(2),
            () => $"/ready (exited: {_process.HasExited}); output:\n{Output}");

        // The replayed file (10 packets, at its original pace) must be fully written before tests
        // read its counters; otherwise a test can catch it half-way.
        await Run.UntilAsync(
            async () => (await MetricsAsync()).Contains(
                "fabric_pipeline_packets_total{pipeline=\"replay\",stage=\"pcap-0\",direction=\"out\"} 10\n",
                StringComparison.Ordinal),
            TimeSpan.FromMinutes(1),
            () => $"the replay pipeline to write its 10 packets; output:\n{Output}");
    }

    /// <summary>Sends <paramref name="datagrams"/> UDP datagrams to the live pipeline's port (not tunnel packets: decap counts them as not-encapsulated).</summary>
    public void SendTraffic(int datagrams)
    {
        using var udp = new global::System.Net.Sockets.UdpClient();
        var payload = new byte[200];
        for (var i = 0; i < datagrams; i++)
        {
            udp.Send(payload, payload.Length, "127.0.0.1", TrafficPort);
        }
    }

    public HttpClient Http() => new() { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(5) };

    public async Task<string> MetricsAsync()
    {
        using var http = Http();
        return await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
    }

    public Task DisposeAsync()
    {
        _process?.Dispose(); // kills it if it still runs, then waits for its last output line
        global::System.IO.Directory.Delete(Directory, recursive: true);
        return Task.CompletedTask;
    }

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
}
