using System.Diagnostics;

namespace Fabric.Tests;

/// <summary>Starts the fabric-node built next to the test assembly: the one launcher of every fixture that runs a node.</summary>
public static class FabricNodeLauncher
{
    /// <summary>The fabric-node executable next to the test assembly.</summary>
    public static string NodePath => Path.Combine(AppContext.BaseDirectory, "fabric-node");

    /// <summary>
    /// <c>fabric-node --config CONFIG [EXTRA...]</c> in <paramref name="workingDirectory"/>, its output (stdout and
    /// stderr) captured by <see cref="CapturedProcess"/> and each line also handed to <paramref name="onLine"/> and
    /// written to <paramref name="logFile"/>. With <paramref name="prefix"/> (e.g. <c>ip netns exec NS</c>) the node
    /// runs under that command. <paramref name="environment"/> is added to the test's own. The caller owns the result
    /// (Dispose kills the node by pid and waits for its last line).
    /// </summary>
    public static CapturedProcess Start(
        string configFile,
        string workingDirectory,
        Action<string>? onLine = null,
        IReadOnlyList<string>? prefix = null,
        IEnumerable<string>? extraArgs = null,
        IReadOnlyDictionary<string, string>? environment = null,
        string? logFile = null)
    {
        prefix ??= [];
        var start = new ProcessStartInfo(prefix.Count > 0 ? prefix[0] : NodePath) { WorkingDirectory = workingDirectory };
        foreach (var argument in prefix.Count > 0 ? [.. prefix.Skip(1), NodePath] : Array.Empty<string>())
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("--config");
        start.ArgumentList.Add(configFile);
        foreach (var argument in extraArgs ?? [])
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return CapturedProcess.Start(start, logFile, onLine);
    }
}
