using System.Diagnostics;

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
            RedirectStandardInput = true,
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

        using var process = CapturedProcess.Start(start);
        process.Process.StandardInput.Close();
        if (!process.WaitForExit(timeout))
        {
            process.Kill();
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within {timeout}:\n{process.Stdout}\n{process.Stderr}");
        }

        return new Result(process.ExitCode, process.Stdout, process.Stderr);
    }

    public static Result Process(string program, params string[] arguments) =>
        Process(program, TimeSpan.FromMinutes(2), arguments);

    /// <summary>A TCP port that is free now and not given out before (<see cref="Ports.Free"/>).</summary>
    public static int FreePort() => Ports.Free();

    /// <summary>
    /// <see cref="Wait.UntilAsync"/> every 200 ms, polling on through HTTP errors, time-outs and cut connections
    /// (the last one is in the message); throws with <paramref name="what"/> after <paramref name="timeout"/>.
    /// </summary>
    public static Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> what) =>
        Wait.UntilAsync(condition, timeout, what, TimeSpan.FromMilliseconds(200), Wait.IsTransientHttp);

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }
}
