using System.Buffers;
using System.CommandLine;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Fabric.Console.Commands;

/// <summary>What a command needs: where the node is, how to print, and the one shared client.</summary>
internal sealed class CommandContext : IDisposable
{
    private static readonly JsonWriterOptions s_jsonOut = new() { Indented = true };
    private readonly GlobalOptions _globals;
    private readonly ParseResult _parse;
    private ManagementClient? _client;

    public CommandContext(GlobalOptions globals, ParseResult parse)
    {
        _globals = globals;
        _parse = parse;
        Json = parse.GetValue(globals.Json);
        var output = parse.InvocationConfiguration.Output;
        Out = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = output == System.Console.Out && !System.Console.IsOutputRedirected ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = ColorSystemSupport.Detect,
            Interactive = InteractionSupport.No,
        });
        if (output != System.Console.Out || System.Console.IsOutputRedirected)
        {
            Out.Profile.Width = 200;
        }

        Stdout = output;
        Stderr = parse.InvocationConfiguration.Error;
    }

    /// <summary>True when the user asked for JSON (scripts).</summary>
    public bool Json { get; }

    /// <summary>Tables and text for people.</summary>
    public IAnsiConsole Out { get; }

    public TextWriter Stdout { get; }

    public TextWriter Stderr { get; }

    /// <summary>The management client for the chosen node, made on first use.</summary>
    public ManagementClient Client => _client ??= CreateClient();

    /// <summary>Prints a value as indented JSON (used for --json). Written by Utf8JsonWriter: no reflection, so the
    /// native (AOT) console prints exactly what the JIT build prints.</summary>
    public void WriteJson(JsonElement value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, s_jsonOut))
        {
            value.WriteTo(writer);
        }

        Stdout.WriteLine(Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    public void Dispose() => _client?.Dispose();

    private ManagementClient CreateClient()
    {
        var raw = _parse.GetValue(_globals.Node)
            ?? Environment.GetEnvironmentVariable("FABRIC_NODE")
            ?? GlobalOptions.DefaultNode;
        if (!Uri.TryCreate(raw.Contains("://", StringComparison.Ordinal) ? raw : "http://" + raw, UriKind.Absolute, out var node) ||
            (node.Scheme != Uri.UriSchemeHttp && node.Scheme != Uri.UriSchemeHttps))
        {
            throw new ConsoleException($"--node: not an http(s) URL: '{raw}'", ExitCodes.Usage);
        }

        if (!node.AbsolutePath.EndsWith('/'))
        {
            node = new Uri(node.AbsoluteUri + "/");
        }

        var seconds = _parse.GetValue(_globals.Timeout);
        if (!(seconds > 0))
        {
            throw new ConsoleException($"--timeout: must be a positive number of seconds, got {seconds}", ExitCodes.Usage);
        }

        var caFile = _parse.GetValue(_globals.CaFile)
            ?? (Environment.GetEnvironmentVariable("FABRIC_CA_FILE") is { Length: > 0 } env ? new FileInfo(env) : null);
        return new ManagementClient(node, TokenSource.Read(_parse.GetValue(_globals.TokenFile)), TimeSpan.FromSeconds(seconds), CaTrust.Read(caFile));
    }
}
