using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Fabric.System.Tests.Mirrors;

/// <summary>
/// One fabric-node process on loopback (free ports, a temp directory for config and data), and
/// the <c>fabric</c> console pointed at it. Dispose kills the process by pid and deletes the directory.
/// </summary>
internal sealed class FabricNodeHost : IDisposable
{
    private readonly StringBuilder _output = new();
    private readonly Process _process;

    public FabricNodeHost(string extraConfig, int? managementPort = null)
    {
        ManagementPort = managementPort ?? FreePort();
        var remotePort = FreePort();
        RemotePort = remotePort;
        Directory = global::System.IO.Directory.CreateTempSubdirectory("fm-node-").FullName;
        var config = Path.Combine(Directory, "node.conf");
        File.WriteAllText(config, $$"""
            fabric.data-dir = "{{Path.Combine(Directory, "data")}}"
            fabric.management.http { host = 127.0.0.1, port = {{ManagementPort}} }
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = {{remotePort}} }
            akka.loglevel = INFO
            {{extraConfig}}
            """);
        _process = FabricNodeLauncher.Start(config, Directory, Append);
    }

    public int ManagementPort { get; }

    public int RemotePort { get; }

    /// <summary>The node's cluster address.</summary>
    public string Address => $"akka.tcp://fabric@127.0.0.1:{RemotePort}";

    public bool HasExited => _process.HasExited;

    /// <summary>kill -9: no goodbye to the cluster.</summary>
    public void KillHard()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>GET a management path as JSON (default when it fails).</summary>
    public async Task<global::System.Text.Json.JsonElement?> TryGetJsonAsync(string path)
    {
        try
        {
            using var http = Http();
            var text = await http.GetStringAsync(path);
            return global::System.Text.Json.JsonDocument.Parse(text).RootElement.Clone();
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

    public string Directory { get; }

    public Uri BaseUri => new($"http://127.0.0.1:{ManagementPort}/");

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

    public HttpClient Http() => new() { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>Waits until <c>/ready</c> answers 200.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var http = Http();
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"fabric-node exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                using var response = await http.GetAsync("ready");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException)
            {
                // slow start
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"fabric-node not ready within {timeout}:\n{Output}");
    }

    /// <summary>Runs <c>fabric --node URL ARGS</c>.</summary>
    public async Task<(int Code, string Stdout, string Stderr)> FabricAsync(params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "fabric")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("--node");
        psi.ArgumentList.Add(BaseUri.ToString());
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, await stderr);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
        global::System.IO.Directory.Delete(Directory, recursive: true);
    }
}
