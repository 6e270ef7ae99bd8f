using System.Diagnostics;

namespace Fabric.System.Tests;

/// <summary>Starts the fabric-node built next to the test assembly, as every system-test fixture that runs one does.</summary>
public static class FabricNodeLauncher
{
    public static string NodePath => Path.Combine(AppContext.BaseDirectory, "fabric-node");

    /// <summary>
    /// <c>fabric-node --config CONFIG</c> in <paramref name="workingDirectory"/>, every line it writes (stdout and
    /// stderr) handed to <paramref name="output"/>. With <paramref name="prefix"/> (e.g. <c>ip netns exec NS</c>)
    /// the node runs under that command. The caller owns the process and stops it by its pid.
    /// </summary>
    public static Process Start(string configFile, string workingDirectory, Action<string?> output, params string[] prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var start = new ProcessStartInfo(prefix.Length > 0 ? prefix[0] : NodePath)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in prefix.Length > 0 ? [.. prefix.Skip(1), NodePath] : Array.Empty<string>())
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("--config");
        start.ArgumentList.Add(configFile);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {start.FileName}");
        process.OutputDataReceived += (_, e) => output(e.Data);
        process.ErrorDataReceived += (_, e) => output(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
