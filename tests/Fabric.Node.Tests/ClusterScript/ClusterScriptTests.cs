using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace Fabric.Node.Tests.ClusterScript;

/// <summary>
/// Must show 7: `dotnet pwsh ./cluster.ps1 up -Nodes 3`, then `status`, then `down` leaves no
/// process behind. The script runs from the repository (PowerShell from the local tool manifest).
/// </summary>
public sealed class ClusterScriptTests
{
    [Fact]
    public async Task Up_status_down_shows_3_Up_and_leaves_no_process_behind()
    {
        var repo = TestPaths.RepoRoot;
        var stateDir = Directory.CreateTempSubdirectory("fo-cluster-").FullName;
        var statePath = Path.Combine(stateDir, "state.json");
        // Build configuration of this test run, so the script's build is a no-op.
        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        int[] pids = [];
        try
        {
            var up = await PwshAsync(repo, "up", "-Nodes", "3", "-StateDir", stateDir, "-Configuration", configuration);
            pids = ReadPids(statePath);
            Assert.True(up.ExitCode == 0, $"up exited {up.ExitCode}:\n{up.Output}");
            Assert.Equal(3, pids.Length);
            Assert.All(pids, pid => Assert.True(IsRunning(pid), $"pid {pid} is not running"));
            Assert.Contains("all 3 nodes Up", up.Output, StringComparison.Ordinal);
            Assert.Contains("3 member(s): 3 Up; 0 unreachable", up.Output, StringComparison.Ordinal);

            var status = await PwshAsync(repo, "status", "-StateDir", stateDir, "-Configuration", configuration);
            Assert.True(status.ExitCode == 0, $"status exited {status.ExitCode}:\n{status.Output}");
            Assert.Equal(3, status.Output.Split('\n').Count(l => l.Contains(" running, management", StringComparison.Ordinal)));
            Assert.Contains("3 member(s): 3 Up; 0 unreachable", status.Output, StringComparison.Ordinal);

            var down = await PwshAsync(repo, "down", "-StateDir", stateDir, "-Configuration", configuration);
            Assert.True(down.ExitCode == 0, $"down exited {down.ExitCode}:\n{down.Output}");
            Assert.All(pids, pid => Assert.False(IsRunning(pid), $"pid {pid} still runs after down"));
            Assert.False(Directory.Exists(stateDir), "down left its state directory");
            Assert.DoesNotContain("did not stop within 15 s", down.Output, StringComparison.Ordinal);
        }
        finally
        {
            // Whatever happened above: kill exactly what the script started, by pid.
            foreach (var pid in pids)
            {
                if (File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains("fabric-node", StringComparison.Ordinal))
                {
                    Process.GetProcessById(pid).Kill();
                }
            }

            if (Directory.Exists(stateDir))
            {
                Directory.Delete(stateDir, recursive: true);
            }
        }
    }

    /// <summary>A process runs while /proc has it and it is not a zombie (exited, not yet reaped by its new parent).</summary>
    private static bool IsRunning(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return false;
        }

        var state = stat[(stat.LastIndexOf(')') + 2)..][0];
        return state is not ('Z' or 'X');
    }

    private static int[] ReadPids(string statePath)
    {
        if (!File.Exists(statePath))
        {
            return [];
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(statePath));
        return doc.RootElement.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("pid").GetInt32()).ToArray();
    }

    private static async Task<(int ExitCode, string Output)> PwshAsync(string repo, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = repo,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "pwsh", "-NoProfile", "-NonInteractive", "./cluster.ps1" }.Concat(args))
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"cluster.ps1 {string.Join(' ', args)} did not finish within 4 minutes");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
