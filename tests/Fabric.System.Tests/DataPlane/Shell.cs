using System.Diagnostics;

namespace Fabric.System.Tests.DataPlane;

/// <summary>Runs the real tools (ip, tcpdump, tcpreplay) for namespace tests.</summary>
internal static class Shell
{
    /// <summary>Runs a command; throws with its stderr when it fails and <paramref name="check"/> is set.</summary>
    public static string Run(string file, string arguments, bool check = true)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException($"cannot start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (check && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} exited {process.ExitCode}: {error.Trim()}");
        }

        return output.Result;
    }

    public static string Ip(string arguments, bool check = true) => Run("ip", arguments, check);

    public static string InNamespace(string ns, string command, bool check = true) =>
        Run("ip", $"netns exec {ns} {command}", check);

    /// <summary><see cref="Wait.Until"/> every 50 ms.</summary>
    public static void WaitUntil(Func<bool> condition, TimeSpan timeout, Func<string> describe) =>
        Wait.Until(condition, timeout, describe, TimeSpan.FromMilliseconds(50));
}

/// <summary>tcpdump writing a file, started and stopped by pid.</summary>
internal sealed class Tcpdump : IDisposable
{
    private readonly CapturedProcess _process;
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="nice">Run tcpdump at this nice value (nice -n), as a unit's Nice= would; null: the test's.</param>
    public Tcpdump(string device, string file, string? ns = null, string extra = "", int? nice = null)
    {
        File = file;
        string arguments = $"-i {device} -U -n -w {file} {extra}";
        var info = ns is null
            ? new ProcessStartInfo("tcpdump", arguments)
            : new ProcessStartInfo("ip", $"netns exec {ns} tcpdump {arguments}");
        if (nice is int value)
        {
            info = new ProcessStartInfo("nice", $"-n {value} {info.FileName} {info.Arguments}");
        }

        _process = CapturedProcess.Start(info, onLine: line =>
        {
            if (line.Contains("listening on", StringComparison.Ordinal))
            {
                _listening.TrySetResult();
            }
        });
        if (!_listening.Task.Wait(TimeSpan.FromSeconds(10)))
        {
            Dispose();
            throw new TimeoutException($"tcpdump on {device} did not start listening: {_process.Output}");
        }
    }

    public string File { get; }

    /// <summary>What tcpdump printed so far (after <see cref="Stop"/>: its "packets captured" lines too).</summary>
    public string Output => _process.Output;

    /// <summary>Stops tcpdump with SIGINT (it writes out what it has) and waits for it.</summary>
    public void Stop()
    {
        if (!_process.HasExited)
        {
            Shell.Run("kill", $"-INT {_process.Id}", check: false);
            if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                _process.Kill();
            }
        }
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
    }
}
