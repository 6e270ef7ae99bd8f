namespace Fabric.System.Tests.Deploy;

/// <summary>
/// A tmux server of our own (its own socket name, fp-tmux-RANDOM) running one bash window of a
/// fixed size, driven with send-keys and read with capture-pane. Dispose kills that server only.
/// </summary>
public sealed class Tmux : IDisposable
{
    private readonly string _socket = "fp-tmux-" + Guid.NewGuid().ToString("N")[..8];

    public Tmux(IDictionary<string, string>? environment = null)
    {
        var arguments = new List<string> { "-L", _socket, "new-session", "-d", "-s", "main", "-x", "200", "-y", "50" };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            arguments.AddRange(["-e", $"{key}={value}"]);
        }

        arguments.AddRange(["bash", "--norc", "--noprofile"]);
        var start = Run.Process("tmux", TimeSpan.FromSeconds(30), arguments);
        Assert.True(start.ExitCode == 0, start.ToString());
    }

    /// <summary>Types <paramref name="text"/> literally.</summary>
    public void Type(string text) => Tmux_("send-keys", "-t", "main", "-l", text);

    /// <summary>Sends tmux key names (Enter, Tab, Up, C-c, q ...).</summary>
    public void Keys(params string[] keys) => Tmux_(["send-keys", "-t", "main", .. keys]);

    /// <summary>The visible screen.</summary>
    public string Screen() => Capture([]);

    /// <summary>The visible screen plus up to <paramref name="lines"/> lines of scrollback above it.</summary>
    public string ScreenWithHistory(int lines) => Capture(["-S", "-" + lines.ToString(global::System.Globalization.CultureInfo.InvariantCulture)]);

    private string Capture(string[] extra)
    {
        var capture = Run.Process("tmux", TimeSpan.FromSeconds(30), ["-L", _socket, "capture-pane", "-p", "-t", "main", .. extra]);
        Assert.True(capture.ExitCode == 0, capture.ToString());
        return capture.Stdout;
    }

    /// <summary>Polls the screen until <paramref name="condition"/> holds; fails with the last screen.</summary>
    public string WaitFor(Func<string, bool> condition, string what, TimeSpan? timeout = null) =>
        WaitFor(condition, what, Screen, timeout);

    /// <summary>Like <see cref="WaitFor(Func{string, bool}, string, TimeSpan?)"/> over the screen and its scrollback.</summary>
    public string WaitForWithHistory(Func<string, bool> condition, string what, int lines, TimeSpan? timeout = null) =>
        WaitFor(condition, what, () => ScreenWithHistory(lines), timeout);

    private static string WaitFor(Func<string, bool> condition, string what, Func<string> read, TimeSpan? timeout)
    {
        var screen = "";
        Wait.Until(() => condition(screen = read()), timeout ?? TimeSpan.FromSeconds(60), () => $"{what}; screen:\n{screen}");
        return screen;
    }

    public void Dispose() => Run.Process("tmux", TimeSpan.FromSeconds(30), ["-L", _socket, "kill-server"]);

    private void Tmux_(params string[] arguments)
    {
        var run = Run.Process("tmux", TimeSpan.FromSeconds(30), ["-L", _socket, .. arguments]);
        Assert.True(run.ExitCode == 0, run.ToString());
    }
}
