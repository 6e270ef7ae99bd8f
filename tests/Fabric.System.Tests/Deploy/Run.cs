using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Fabric.System.Tests.Deploy;

/// <summary>Process helpers for the deployment tests: run to exit, locate the repository, free ports.</summary>
public static class Run
{
    /// <summary>The repository root: the directory above the test assembly that holds Fabric.sln.</summary>
    public static string RepoRoot => TestPaths.RepoRoot;

    /// <summary>A corpus capture: tests/corpus in the repository (FABRIC_CORPUS overrides).</summary>
    public static string Corpus(string name) => TestPaths.Corpus(name);

    /// <summary>Runs <paramref name="program"/> to its exit; kills it (by pid, with its children) after <paramref name="timeout"/>.</summary>
    public static Result Process(string program, TimeSpan timeout, IEnumerable<string> arguments, string? workingDirectory = null, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? RepoRoot,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = global::System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        process.StandardInput.Close();
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(stderr, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within {timeout}:\n{stdout}\n{stderr}");
        }

        process.WaitForExit();
        return new Result(process.ExitCode, Text(stdout), Text(stderr));
    }

    public static Result Process(string program, params string[] arguments) =>
        Process(program, TimeSpan.FromMinutes(2), arguments);

    /// <summary>A TCP port the OS says is free now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// <see cref="Wait.UntilAsync"/> every 200 ms, polling on through HTTP errors, time-outs and cut connections
    /// (the last one is in the message); throws with <paramref name="what"/> after <paramref name="timeout"/>.
    /// </summary>
    public static Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> what) =>
        Wait.UntilAsync(condition, timeout, what, TimeSpan.FromMilliseconds(200), Wait.IsTransientHttp);

    private static void Append(StringBuilder builder, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (builder)
        {
            builder.Append(line).Append('\n');
        }
    }

    private static string Text(StringBuilder builder)
    {
        lock (builder)
        {
            return builder.ToString();
        }
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }
}
