using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Fabric.System.Tests.Deploy;

namespace Fabric.System.Tests.Reliability;

/// <summary>
/// One fabric-node process (the build next to the test assembly) started with
/// <c>ip netns exec</c> in its own network namespace, and the test's view into that namespace
/// (management HTTP and traffic are made from inside it, so they work while the node is cut off).
/// <see cref="Kill"/> kills it by pid (<c>ip netns exec</c> execs the node: same pid).
/// </summary>
public sealed class PartitionNode : IDisposable
{
    private readonly StringBuilder _output = new();
    private readonly string _configFile;
    private CapturedProcess? _process;

    public PartitionNode(int index, string netns, string address, string configFile, string token)
    {
        Index = index;
        Netns = netns;
        IpAddress = address;
        _configFile = configFile;
        Token = token;
        Sockets = new NamespaceSockets(netns);
        Management = Sockets.Http(new Uri($"http://{address}:{PartitionFixture.ManagementPort}/"), TimeSpan.FromSeconds(3));
    }

    public int Index { get; }

    public string Netns { get; }

    public string IpAddress { get; }

    public string Token { get; }

    /// <summary>The node's cluster address.</summary>
    public string Address => $"akka.tcp://fabric@{IpAddress}:{PartitionFixture.RemotePort}";

    public NamespaceSockets Sockets { get; }

    /// <summary>Management HTTP of the node, connected from inside its namespace.</summary>
    public HttpClient Management { get; }

    public int? Pid => _process?.Id;

    public bool HasExited => _process is null || _process.HasExited;

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

    public void Start()
    {
        Append($"---- start {DateTime.UtcNow:O}");
        _process = FabricNodeLauncher.Start(_configFile, Path.GetDirectoryName(_configFile)!, Append, prefix: ["ip", "netns", "exec", Netns]);
    }

    /// <summary>kill -9 by pid and wait for the exit.</summary>
    public void Kill()
    {
        _process?.Kill(entireProcessTree: false);
        _process?.Dispose();
        _process = null;
    }

    public async Task<string> MetricsAsync() => await Management.GetStringAsync(new Uri("metrics", UriKind.Relative)).ConfigureAwait(false);

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var document = JsonDocument.Parse(await Management.GetStringAsync(new Uri(path, UriKind.Relative)).ConfigureAwait(false));
        return document.RootElement.Clone();
    }

    /// <summary>Members this node sees with status Up (addresses).</summary>
    public async Task<IReadOnlyList<string>> UpMembersAsync()
    {
        var view = await GetJsonAsync("cluster/members").ConfigureAwait(false);
        return [.. view.GetProperty("members").EnumerateArray()
            .Where(m => m.GetProperty("status").GetString() == "Up")
            .Select(m => m.GetProperty("address").GetString()!)];
    }

    private long _sent;

    /// <summary>Datagrams sent so far into the namespace's loopback for the live pipeline.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Sends <paramref name="datagrams"/> UDP datagrams inside the namespace to its loopback (what the node's live pipeline captures).</summary>
    public void SendTraffic(global::System.Net.Sockets.Socket socket, int datagrams)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var payload = new byte[200];
        var target = new global::System.Net.IPEndPoint(global::System.Net.IPAddress.Loopback, PartitionFixture.TrafficPort);
        for (var i = 0; i < datagrams; i++)
        {
            socket.SendTo(payload, target);
            Interlocked.Increment(ref _sent);
        }
    }

    /// <summary>The value of one sample in Prometheus text, e.g. <c>fabric_cluster_self_removed</c>; null when absent.</summary>
    public static double? Sample(string metrics, string series)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return double.Parse(line.AsSpan(series.Length + 1), NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    public void Dispose()
    {
        Kill();
        Management.Dispose();
        Sockets.Dispose();
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

    /// <summary>The last <paramref name="characters"/> of the output, for failure messages.</summary>
    public string Tail(int characters = 12000)
    {
        // Dead letters during a partition are expected and many; leave them out.
        var output = string.Join('\n', Output.Split('\n').Where(l => !l.Contains("dead letters", StringComparison.Ordinal) && !l.Contains("was not delivered", StringComparison.Ordinal)));
        return $"== node {Index} ({Address}, netns {Netns}) ==\n" + (output.Length > characters ? output[^characters..] : output);
    }

    public static Run.Result Ip(params string[] arguments) => Run.Process("ip", TimeSpan.FromSeconds(30), arguments);
}
