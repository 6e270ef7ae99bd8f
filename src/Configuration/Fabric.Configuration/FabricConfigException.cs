namespace Fabric.Configuration;

/// <summary>
/// A configuration value Fabric cannot use. The message is one line that starts with the HOCON
/// path, e.g. <c>fabric.management.http.port: expected a port number 1-65535, got "abc"</c>.
/// fabric-node prints it and exits with code 2; nothing is started.
/// </summary>
public sealed class FabricConfigException : Exception
{
    public FabricConfigException(string path, string problem)
        : base($"{OneLine(path)}: {OneLine(problem)}")
    {
        Path = OneLine(path);
        Problem = OneLine(problem);
    }

    public FabricConfigException(string path, string problem, Exception inner)
        : base($"{OneLine(path)}: {OneLine(problem)}", inner)
    {
        Path = OneLine(path);
        Problem = OneLine(problem);
    }

    /// <summary>The full HOCON path of the offending key, e.g. <c>fabric.pipelines[0].sinks[1].type</c>.</summary>
    public string Path { get; }

    /// <summary>What is wrong with it, without the path.</summary>
    public string Problem { get; }

    // A value quoted in a problem (or a quoted key in a path) may hold line breaks or other control
    // characters; they are written as escapes so that the error stays one line.
    private static string OneLine(string text)
    {
        if (!text.AsSpan().ContainsAnyInRange('\0', '\u001f'))
        {
            return text;
        }

        var builder = new System.Text.StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            _ = c switch
            {
                '\n' => builder.Append("\\n"),
                '\r' => builder.Append("\\r"),
                '\t' => builder.Append("\\t"),
                < ' ' => builder.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => builder.Append(c),
            };
        }

        return builder.ToString();
    }
}
