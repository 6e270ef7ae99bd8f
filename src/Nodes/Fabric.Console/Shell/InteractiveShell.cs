using System.CommandLine;
using System.Text;
using System.Text.Json;
using Fabric.Console.Commands;

namespace Fabric.Console.Shell;

/// <summary>
/// <c>fabric</c> with no command: a shell on the node given by --node. The prompt shows the node
/// and its cluster; Up/Down walk the session's history; Tab completes command groups,
/// sub-commands, pipeline names (under <c>pipelines</c>) and session names (under <c>mirrors</c>);
/// <c>help [COMMAND]</c>, <c>exit</c>/<c>quit</c>/Ctrl-D leave. Each line runs exactly as
/// <c>fabric LINE</c> with the shell's global options (--node, --token-file, --timeout) in front.
/// When standard input is not a terminal, lines are read as they come (a script of commands).
/// </summary>
internal sealed class InteractiveShell
{
    private readonly RootCommand _root;
    private readonly string[] _globalArgs;
    private readonly ManagementClient _client;
    private readonly List<string> _history = [];
    private readonly TextWriter _out;

    public InteractiveShell(RootCommand root, string[] globalArgs, ManagementClient client, TextWriter output)
    {
        _root = root;
        _globalArgs = globalArgs;
        _client = client;
        _out = output;
    }

    public IReadOnlyList<string> History => _history;

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var interactive = !System.Console.IsInputRedirected && !System.Console.IsOutputRedirected;
        if (interactive)
        {
            await _out.WriteLineAsync("fabric shell: Tab completes, Up/Down recall, 'help' lists commands, 'exit' or Ctrl-D leaves.").ConfigureAwait(false);
        }

        var last = ExitCodes.Ok;
        while (!ct.IsCancellationRequested)
        {
            string? line;
            if (interactive)
            {
                var prompt = await PromptAsync(ct).ConfigureAwait(false);
                // At the prompt Ctrl-C is a key (it clears the line); while a command runs it is
                // SIGINT again, which cancels that command only.
                System.Console.TreatControlCAsInput = true;
                try
                {
                    line = ReadLine(prompt);
                }
                finally
                {
                    System.Console.TreatControlCAsInput = false;
                }
            }
            else
            {
                line = await System.Console.In.ReadLineAsync(ct).ConfigureAwait(false);
            }

            if (line is null)
            {
                return last; // Ctrl-D or end of input
            }

            var words = Split(line);
            if (words.Count == 0)
            {
                continue;
            }

            if (_history.Count == 0 || _history[^1] != line)
            {
                _history.Add(line);
            }

            if (words[0] is "exit" or "quit")
            {
                return ExitCodes.Ok;
            }

            if (words[0] == "help")
            {
                words = [.. words.Skip(1), "--help"];
            }

            last = await ConsoleApp.RunAsync([.. words, .. _globalArgs]).ConfigureAwait(false);
        }

        return last;
    }

    /// <summary>"fabric 127.0.0.1:4053 [cluster 3 up, 1 unreachable]> ", or the URL and "unreachable".</summary>
    private async Task<string> PromptAsync(CancellationToken ct)
    {
        try
        {
            var members = await _client.GetAsync("cluster/members", ct).ConfigureAwait(false);
            var self = members.GetProperty("self").GetString() ?? _client.Node.Authority;
            var host = self.Contains('@', StringComparison.Ordinal) ? self[(self.IndexOf('@', StringComparison.Ordinal) + 1)..] : self;
            var up = members.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up");
            var unreachable = members.GetProperty("unreachable").GetArrayLength();
            return $"fabric {host} [cluster {up} up{(unreachable > 0 ? $", {unreachable} unreachable" : "")}]> ";
        }
        catch (Exception e) when (e is ConsoleException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return $"fabric {_client.Node.Authority} [unreachable]> ";
        }
    }

    /// <summary>A line editor: printable keys, Backspace, Left/Right, Home/End, Up/Down history, Tab completion, Ctrl-C clears, Ctrl-D on an empty line ends.</summary>
    private string? ReadLine(string prompt)
    {
        var buffer = new StringBuilder();
        var cursor = 0;
        var recall = _history.Count;
        System.Console.Write(prompt);
        while (true)
        {
            var key = System.Console.ReadKey(intercept: true);
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    System.Console.WriteLine();
                    return buffer.ToString();
                case ConsoleKey.Backspace when cursor > 0:
                    buffer.Remove(--cursor, 1);
                    break;
                case ConsoleKey.LeftArrow when cursor > 0:
                    cursor--;
                    break;
                case ConsoleKey.RightArrow when cursor < buffer.Length:
                    cursor++;
                    break;
                case ConsoleKey.Home:
                    cursor = 0;
                    break;
                case ConsoleKey.End:
                    cursor = buffer.Length;
                    break;
                case ConsoleKey.UpArrow when recall > 0:
                    recall--;
                    buffer.Clear().Append(_history[recall]);
                    cursor = buffer.Length;
                    break;
                case ConsoleKey.DownArrow when recall < _history.Count:
                    recall++;
                    buffer.Clear().Append(recall < _history.Count ? _history[recall] : "");
                    cursor = buffer.Length;
                    break;
                case ConsoleKey.Tab:
                    cursor = Complete(buffer, cursor, prompt);
                    break;
                case ConsoleKey.D when (key.KeyChar == '\u0004' || key.Modifiers.HasFlag(ConsoleModifiers.Control)) && buffer.Length == 0:
                    System.Console.WriteLine();
                    return null;
                case ConsoleKey.C when key.KeyChar == '\u0003' || key.Modifiers.HasFlag(ConsoleModifiers.Control):
                    System.Console.WriteLine("^C");
                    buffer.Clear();
                    cursor = 0;
                    System.Console.Write(prompt);
                    continue;
                default:
                    if (!char.IsControl(key.KeyChar))
                    {
                        buffer.Insert(cursor++, key.KeyChar);
                    }

                    break;
            }

            Redraw(prompt, buffer, cursor);
        }
    }

    private static void Redraw(string prompt, StringBuilder buffer, int cursor)
    {
        // Carriage return, prompt and line, clear to the end of the line, cursor back into place.
        System.Console.Write("\r" + prompt + buffer + "\u001b[K");
        var back = buffer.Length - cursor;
        if (back > 0)
        {
            System.Console.Write($"\u001b[{back}D");
        }
    }

    /// <summary>Completes the word before the cursor; with several candidates, lists them and completes their common prefix.</summary>
    private int Complete(StringBuilder buffer, int cursor, string prompt)
    {
        var before = buffer.ToString(0, cursor);
        var words = Split(before);
        var current = before.Length == 0 || char.IsWhiteSpace(before[^1]) ? "" : words[^1];
        var previous = current.Length == 0 ? words : words.Take(words.Count - 1).ToList();
        var candidates = Candidates(previous).Where(c => c.StartsWith(current, StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal).ToList();
        if (candidates.Count == 0)
        {
            return cursor;
        }

        var prefix = candidates.Count == 1 ? candidates[0] + " " : CommonPrefix(candidates);
        if (candidates.Count > 1 && prefix.Length == current.Length)
        {
            System.Console.WriteLine();
            System.Console.WriteLine(string.Join("  ", candidates));
            System.Console.Write(prompt);
        }

        var insert = prefix[current.Length..];
        buffer.Insert(cursor, insert);
        return cursor + insert.Length;
    }

    /// <summary>What may follow <paramref name="words"/>: sub-commands, then names the node knows.</summary>
    internal IEnumerable<string> Candidates(IReadOnlyList<string> words)
    {
        Command command = _root;
        foreach (var word in words.Where(w => !w.StartsWith('-')))
        {
            var next = command.Subcommands.FirstOrDefault(c => c.Name == word);
            if (next is null)
            {
                return [];
            }

            command = next;
        }

        if (command == _root)
        {
            return [.. _root.Subcommands.Select(c => c.Name), "help", "exit", "quit"];
        }

        if (command.Subcommands.Count > 0)
        {
            return command.Subcommands.Select(c => c.Name);
        }

        if (!command.Arguments.Any(a => a.Name == "name"))
        {
            return [];
        }

        var group = words.FirstOrDefault(w => !w.StartsWith('-'));
        return group switch
        {
            "pipelines" => Names("pipelines", "pipelines"),
            "mirrors" => Names("mirrors", "sessions"),
            _ => [],
        };
    }

    private List<string> Names(string path, string property)
    {
        try
        {
            var list = _client.GetAsync(path, CancellationToken.None).GetAwaiter().GetResult();
            return list.GetProperty(property).EnumerateArray().Select(e => e.GetProperty("name").GetString() ?? "").Where(n => n.Length > 0).ToList();
        }
        catch (Exception e) when (e is ConsoleException or KeyNotFoundException or InvalidOperationException)
        {
            return []; // nothing to complete from an unreachable node
        }
    }

    private static string CommonPrefix(List<string> values)
    {
        var prefix = values[0];
        foreach (var value in values.Skip(1))
        {
            var i = 0;
            while (i < prefix.Length && i < value.Length && prefix[i] == value[i])
            {
                i++;
            }

            prefix = prefix[..i];
        }

        return prefix;
    }

    /// <summary>Splits a line into words; double or single quotes keep spaces.</summary>
    internal static List<string> Split(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        char? quote = null;
        var inWord = false;
        foreach (var c in line)
        {
            if (quote is { } q)
            {
                if (c == q)
                {
                    quote = null;
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (c is '"' or '\'')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        return words;
    }
}
