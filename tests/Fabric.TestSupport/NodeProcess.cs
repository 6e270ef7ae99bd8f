using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Fabric.Tests;

/// <summary>
/// One real <c>fabric-node</c> process on loopback: its own free ports, a temporary directory
/// for its config and data, and the <c>fabric</c> console pointed at it. Started by
/// <see cref="FabricNodeLauncher"/> (its output captured by <see cref="CapturedProcess"/>); can be
/// stopped and started again on the same directory. Dispose kills it (by pid) and deletes the directory.
/// </summary>
public sealed class NodeProcess : IDisposable
{
    private readonly StringBuilder _output = new();
    private readonly string _extraConfig;
    private CapturedProcess? _process;

    public NodeProcess(string extraConfig = "", int? managementPort = null, int? remotePort = null, string? directory = null)
    {
        ManagementPort = managementPort ?? FreePort();
        RemotePort = remotePort ?? FreePort();
        Directory = directory ?? System.IO.Directory.CreateTempSubdirectory("fo-node-").FullName;
        OwnsDirectory = directory is null;
        _extraConfig = extraConfig;
        ConfigFile = Path.Combine(Directory, "node.conf");
        File.WriteAllText(ConfigFile, $$"""
            fabric.data-dir = "{{DataDirectory}}"
            fabric.management.http { host = 127.0.0.1, port = {{ManagementPort}} }
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = {{RemotePort}} }
            akka.loglevel = INFO
            {{extraConfig}}
            """);
    }

    public int ManagementPort { get; }

    /// <summary>Environment variables the process gets on top of the test's own.</summary>
    public Dictionary<string, string> Environment { get; } = [];

    public int RemotePort { get; }

    public string Directory { get; }

    public bool OwnsDirectory { get; }

    public string ConfigFile { get; }

    public string DataDirectory => Path.Combine(Directory, "data");

    public Uri BaseUri => new($"http://127.0.0.1:{ManagementPort}/");

    /// <summary>The Akka address this node has once started.</summary>
    public string Address => $"akka.tcp://fabric@127.0.0.1:{RemotePort}";

    public int Pid => _process?.Id ?? throw new InvalidOperationException("not started");

    public bool HasExited => _process is null || _process.HasExited;

    public int ExitCode => _process?.ExitCode ?? throw new InvalidOperationException("not started");

    /// <summary>Everything the process wrote (stdout and stderr), for failure messages.</summary>
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

    /// <summary>The path of the fabric-node executable next to the test assembly.</summary>
    public static string Executable => Path.Combine(AppContext.BaseDirectory, "fabric-node");

    /// <summary>Starts the process with <c>--config</c> for its config file plus <paramref name="extraArgs"/>.</summary>
    public NodeProcess Start(params string[] extraArgs)
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("already running");
        }

        _process?.Dispose();
        _process = FabricNodeLauncher.Start(ConfigFile, Directory, Append, extraArgs: extraArgs, environment: Environment);
        return this;
    }

    /// <summary>Starts a process with exactly <paramref name="args"/> and waits for it to exit.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunToExitAsync(TimeSpan timeout, params string[] args)
    {
        var info = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"fabric-node {string.Join(' ', args)} did not exit within {timeout}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Sends SIGTERM (what systemd and Kubernetes send).</summary>
    public void Terminate() => Signal(15);

    /// <summary>Sends SIGKILL (kill -9): no goodbye to the cluster; returns once it has exited and its last line is read.</summary>
    public void KillHard()
    {
        Signal(9);
        _process!.WaitForExit(TimeSpan.FromSeconds(30));
    }

    /// <summary>Waits for the process to exit; returns false on timeout.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        if (_process is null)
        {
            return true;
        }

        return await _process.WaitForExitAsync(timeout);
    }

    /// <summary>GET <paramref name="path"/> as JSON.</summary>
    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var http = Http();
        return await http.GetFromJsonAsync<JsonElement>(path);
    }

    /// <summary>GET <paramref name="path"/> as JSON; null when the node does not answer (yet).</summary>
    public async Task<JsonElement?> TryGetJsonAsync(string path)
    {
        try
        {
            using var http = Http();
            var text = await http.GetStringAsync(path);
            return JsonDocument.Parse(text).RootElement.Clone();
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

    /// <summary>Runs <c>fabric --node URL ARGS</c> (the console next to the test assembly) to its exit.</summary>
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

    /// <summary>An HTTP client for this node's management API.</summary>
    public HttpClient Http() => new() { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes.</summary>
    public async Task WaitUntilAsync(Func<NodeProcess, Task<bool>> condition, TimeSpan timeout, string what)
    {
        ArgumentNullException.ThrowIfNull(condition);
        await Wait.UntilAsync(
            () => HasExited
                ? throw new NodeExitedException($"fabric-node exited (code {_process?.ExitCode}) while waiting for {what}. Output:\n{Output}")
                : condition(this),
            timeout,
            () => $"{what} on {BaseUri}. Output:\n{Tail(Output)}",
            TimeSpan.FromMilliseconds(200),
            e => e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or InvalidOperationException and not NodeExitedException);
    }

    /// <summary>The number of members with status Up in this node's view.</summary>
    public async Task<int> UpCountAsync()
    {
        var members = await GetJsonAsync("cluster/members");
        return members.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up");
    }

    /// <summary>Waits until /ready answers 200.</summary>
    public Task WaitReadyAsync(TimeSpan timeout) => WaitUntilAsync(async node =>
    {
        using var http = node.Http();
        using var response = await http.GetAsync("ready");
        return response.StatusCode == HttpStatusCode.OK;
    }, timeout, "/ready");

    /// <summary>A TCP port the OS says is free now.</summary>
    public static int FreePort() => Ports.Free();

    /// <summary>True when nothing listens on 127.0.0.1:<paramref name="port"/>.</summary>
    public static bool IsPortFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _process?.Dispose(); // kills it if it still runs, then waits for its last output line
        if (OwnsDirectory)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
                // A file still held open by the exiting process: the OS temp cleaner removes it.
            }
        }
    }

    private void Signal(int signal)
    {
        if (kill(Pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({Pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
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

    /// <summary>The node died while a wait was on: not a reason to poll on.</summary>
    private sealed class NodeExitedException(string message) : InvalidOperationException(message);

    private static string Tail(string text) => text.Length > 6000 ? text[^6000..] : text;

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054, CA5392 // a plain libc call; LibraryImport needs a partial class
    private static extern int kill(int pid, int sig);
#pragma warning restore SYSLIB1054, CA5392
}
