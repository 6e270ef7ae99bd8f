using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Fabric.Actors.Mirrors.Tc;

/// <summary>
/// Watches network devices come and go with <c>ip -o monitor link</c> (RTM_NEWLINK / RTM_DELLINK
/// as one line each) and reports the device name. Restarted by its owner if it exits.
/// </summary>
internal sealed partial class LinkMonitor : IDisposable
{
    private readonly Process _process;

    private LinkMonitor(Process process) => _process = process;

    /// <summary>Raised on the reader thread: (device name, deleted).</summary>
    public static LinkMonitor Start(Action<string, bool> onLink, Action<string> onExit)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-o", "monitor", "link" })
        {
            psi.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line && Parse(line) is { } parsed)
            {
                onLink(parsed.Name, parsed.Deleted);
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.Exited += (_, _) => onExit("ip monitor link exited");
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new LinkMonitor(process);
    }

    [GeneratedRegex(@"^(?<deleted>Deleted )?(?<index>\d+): (?<name>[^:@\s]+)(@[^:]*)?:", RegexOptions.CultureInvariant)]
    private static partial Regex LineSyntax();

    /// <summary>Parses one line of <c>ip -o monitor link</c>, e.g. <c>12: fmab12s@fmab12p: &lt;BROADCAST,...&gt; ...</c>.</summary>
    internal static (string Name, bool Deleted)? Parse(string line)
    {
        var m = LineSyntax().Match(line);
        return m.Success ? (m.Groups["name"].Value, m.Groups["deleted"].Success) : null;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }

        _process.Dispose();
    }
}
