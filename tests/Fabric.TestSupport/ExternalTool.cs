using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Fabric.Tests;

/// <summary>
/// Runs an installed program (tshark, tcpdump, the built `fabric`, ...) to its exit and returns its output;
/// shared by every test project (tests/Fabric.TestSupport).
/// </summary>
public static partial class ExternalTool
{
    /// <summary>
    /// Packets tcpdump reads from a file: `tcpdump -n -# -r FILE` numbers the first line of each
    /// packet ("   12  10:20:13.729856 ..."); continuation lines are not counted. Fails on a tcpdump error.
    /// </summary>
    public static int TcpdumpCount(string path)
    {
        var result = Run("tcpdump", "-n", "-#", "-r", path);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"tcpdump -r {path} failed ({result.ExitCode}): {result.Stderr}");
        }

        return result.Lines.Count(line => PacketLine().IsMatch(line));
    }

    /// <summary>
    /// `tshark -r FILE -T fields -E separator=| -e F1 -e F2 ...`: one line per frame, the fields separated by '|'.
    /// Fails on a tshark error.
    /// </summary>
    public static string[] TsharkFields(string path, params string[] fields)
    {
        var arguments = new List<string> { "-r", path, "-T", "fields", "-E", "separator=|" };
        foreach (var field in fields)
        {
            arguments.Add("-e");
            arguments.Add(field);
        }

        var result = Run("tshark", [.. arguments]);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"tshark -r {path} failed ({result.ExitCode}): {result.Stderr}");
        }

        return result.Lines;
    }

    [GeneratedRegex(@"^ *[0-9]+  [0-9]{2}:[0-9]{2}:[0-9]{2}\.")]
    private static partial Regex PacketLine();

    public static ToolResult Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} did not finish within 2 minutes");
        }

        return new ToolResult(process.ExitCode, stdout, stderr.GetAwaiter().GetResult());
    }
}

public sealed record ToolResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] Lines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
