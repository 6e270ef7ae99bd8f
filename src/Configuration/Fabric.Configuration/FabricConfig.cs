using System.Globalization;
using System.Reflection;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace Fabric.Configuration;

/// <summary>
/// Loads Fabric's configuration: the embedded reference <c>hocon/fabric.conf</c> under the
/// operator's files (given in order; later files win), and refuses any key under <c>fabric</c>
/// that the reference does not document.
/// </summary>
public static class FabricConfig
{
    /// <summary>The manifest name of the embedded reference configuration.</summary>
    public const string ReferenceResourceName = "Fabric.fabric.conf";

    private static readonly Lazy<string> ReferenceText = new(ReadReferenceText);

    // Parsed once for WithReference; never handed out (callers get a fallback chain over it, not it).
    private static readonly Lazy<Config> ParsedReference = new(() => ConfigurationFactory.ParseString(ReferenceText.Value));

    /// <summary>
    /// The embedded reference configuration alone. Besides <c>fabric</c> it sets a node's Akka
    /// settings (cluster provider, remoting on 127.0.0.1:4053, SBR): tests that start their own
    /// ActorSystem should take only the sections they need (e.g. <c>GetConfig("fabric")</c>).
    /// </summary>
    public static Config Reference => ConfigurationFactory.ParseString(ReferenceText.Value);

    /// <summary>
    /// <paramref name="config"/> over the reference: every key fabric.conf documents has a value, so a
    /// settings reader reads each key as required and writes no default of its own. A config that already
    /// holds the reference (<see cref="Load"/>) reads the same through it.
    /// </summary>
    public static Config WithReference(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.WithFallback(ParsedReference.Value);
    }

    /// <summary>
    /// Reads <paramref name="files"/> in order (later files win) over the reference and validates
    /// the <c>fabric</c> section. A file that cannot be read or parsed throws a
    /// <see cref="FabricConfigException"/> whose path is the file name.
    /// </summary>
    public static Config Load(IEnumerable<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var layers = new List<(string Source, string Text)>();
        foreach (var file in files)
        {
            layers.Add((file, ReadFile(file)));
        }

        return LoadFromText(layers);
    }

    /// <summary>
    /// Same as <see cref="Load"/> over HOCON texts; <c>Source</c> names each text in errors.
    /// </summary>
    public static Config LoadFromText(IEnumerable<(string Source, string Text)> layers) => LoadFromText(layers, Reference);

    /// <summary>
    /// Same as <see cref="LoadFromText(IEnumerable{ValueTuple{string, string}})"/> over an already parsed
    /// <paramref name="reference"/> (<see cref="Reference"/> parses the embedded text on every access;
    /// the fuzz target parses it once).
    /// </summary>
    public static Config LoadFromText(IEnumerable<(string Source, string Text)> layers, Config reference)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(reference);
        var result = reference;
        foreach (var (source, text) in layers)
        {
            RefuseForbiddenCharacters(source, text);
            Config parsed;
            try
            {
                // HOCON `include`: not supported (Akka's parser dereferences a missing include callback
                // and crashed with a NullReferenceException); every file is given with its own --config.
                parsed = ParseWithTimeLimit(source, text);
            }
            catch (Exception e) when (e is ConfigurationException or FormatException or InvalidOperationException or ArgumentException)
            {
                throw new FabricConfigException(source, "not valid HOCON: " + OneLine(e.Message), e);
            }

            if (!parsed.IsEmpty)
            {
                result = parsed.WithFallback(result);
            }
        }

        ValidateKnownKeys(result, reference);
        return result;
    }

    /// <summary>
    /// Refuses every key under <c>fabric</c> in <paramref name="config"/> that is not in
    /// <paramref name="reference"/>. Objects are compared key by key; the contents of lists
    /// (e.g. <c>fabric.pipelines</c>) are left to the Settings class that reads them.
    /// </summary>
    public static void ValidateKnownKeys(Config config, Config reference)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(reference);
        if (!config.HasPath("fabric"))
        {
            return;
        }

        var actual = config.GetValue("fabric");
        if (!actual.IsObject())
        {
            throw new FabricConfigException("fabric", "expected an object");
        }

        var known = reference.HasPath("fabric") ? reference.GetValue("fabric") : null;
        Compare("fabric", actual.GetObject(), known is not null && known.IsObject() ? known.GetObject() : null);
    }

    private static void Compare(string path, HoconObject actual, HoconObject? known)
    {
        foreach (var (key, value) in actual.Items)
        {
            var childPath = path + "." + QuoteKey(key);
            HoconValue? knownValue = null;
            if (known is null || !known.Items.TryGetValue(key, out knownValue))
            {
                throw new FabricConfigException(childPath, "unknown key (not in the reference configuration hocon/fabric.conf)");
            }

            if (value.IsObject() && knownValue.IsObject())
            {
                Compare(childPath, value.GetObject(), knownValue.GetObject());
            }
        }
    }

    /// <summary>
    /// How long Akka's HOCON parser may take over one file (a real file takes milliseconds). Its parser
    /// loops forever on some malformed input (e.g. <c>include # comment</c>, or stray <c>=</c> inside a
    /// list: found by the hocon fuzz target); past this limit the file is refused instead of hanging
    /// fabric-node at start. The parsing thread cannot be stopped: it ends with the process, which
    /// exits on the error (fabric-node, <c>fabric decap --config</c>).
    /// </summary>
    internal static TimeSpan ParseTimeLimit { get; set; } = TimeSpan.FromSeconds(10);

    private static Config ParseWithTimeLimit(string source, string text)
    {
        // HOCON `include`: not supported (Akka's parser dereferences a missing include callback and
        // crashed with a NullReferenceException); every file is given with its own --config.
        var parse = Task.Factory.StartNew(
            () => ConfigurationFactory.ParseString(text, included => throw new FabricConfigException(
                source, $"include \"{included}\" is not supported: give each file with its own --config (later files win)")),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            if (!parse.Wait(ParseTimeLimit))
            {
                throw new FabricConfigException(source, string.Create(CultureInfo.InvariantCulture,
                    $"not valid HOCON: the parser did not finish within {ParseTimeLimit.TotalSeconds:0.#} s (it loops on some malformed input, such as a stray character inside a list or an include without a quoted file name)"));
            }
        }
        catch (AggregateException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
        }

        return parse.Result;
    }

    /// <summary>
    /// Refuses, outside quoted strings and comments, what Akka's HOCON parser does not reject but loops
    /// forever on (so fabric-node hung at start instead of saying what is wrong; found by the hocon
    /// fuzz target): the characters HOCON forbids in unquoted text (`` ` ^ ! @ * & \ ? ``, <c>$</c> not
    /// starting a substitution <c>${…}</c>), and directly inside a list <c>=</c>, a <c>}</c>
    /// closing nothing, and <c>${?…}</c>. The parse time limit catches whatever else it loops on.
    /// </summary>
    private static void RefuseForbiddenCharacters(string source, string text)
    {
        int line = 1, lineStart = 0;
        var open = new Stack<char>();
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var inList = open.Count > 0 && open.Peek() == '[';
            string? problem = null;
            switch (c)
            {
                case '\n':
                    line++;
                    lineStart = i + 1;
                    break;
                case '"' when string.CompareOrdinal(text, i, "\"\"\"", 0, 3) == 0:
                    var close = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
                    var end = close < 0 ? text.Length : close + 3;
                    for (var j = i; j < end; j++)
                    {
                        if (text[j] == '\n')
                        {
                            line++;
                            lineStart = j + 1;
                        }
                    }

                    i = end - 1;
                    break;
                case '"':
                    // To the closing quote (a backslash escapes the next character) or the end of the line.
                    i++;
                    while (i < text.Length && text[i] != '"' && text[i] != '\n')
                    {
                        i += text[i] == '\\' ? 2 : 1;
                    }

                    if (i < text.Length && text[i] == '\n')
                    {
                        i--;
                    }

                    break;
                case '#':
                case '/' when i + 1 < text.Length && text[i + 1] == '/':
                    while (i + 1 < text.Length && text[i + 1] != '\n')
                    {
                        i++;
                    }

                    break;
                case '[' or '{':
                    open.Push(c);
                    break;
                case ']' or '}':
                    if (c == '}' && inList)
                    {
                        problem = "'}' inside a list closes no object";
                    }
                    else if (open.Count > 0)
                    {
                        open.Pop();
                    }

                    break;
                case '=' when inList:
                    problem = "'=' directly inside a list (a list holds values; an object is { key = value })";
                    break;
                case '$' when i + 1 < text.Length && text[i + 1] == '{':
                    // A substitution: its braces are not an object.
                    if (inList && i + 2 < text.Length && text[i + 2] == '?')
                    {
                        problem = "an optional substitution ${?...} inside a list is not supported";
                        break;
                    }

                    var closing = text.IndexOf('}', i);
                    i = closing < 0 ? text.Length - 1 : closing;
                    break;
                case '$':
                case '`' or '^' or '!' or '@' or '*' or '&' or '\\':
                case '?':
                    problem = $"'{c}' is not allowed outside quotes (quote the value)";
                    break;
            }

            if (problem is not null)
            {
                throw new FabricConfigException(source, string.Create(CultureInfo.InvariantCulture,
                    $"not valid HOCON: line {line}, column {i - lineStart + 1}: {problem}"));
            }
        }
    }

    private static string QuoteKey(string key) =>
        key.AsSpan().IndexOfAny(".\" ") >= 0 ? "\"" + key.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"" : key;

    private static string ReadFile(string file)
    {
        try
        {
            return File.ReadAllText(file);
        }
        catch (FileNotFoundException e)
        {
            throw new FabricConfigException(file, "config file not found", e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new FabricConfigException(file, "config file not found", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new FabricConfigException(file, "cannot read config file: " + OneLine(e.Message), e);
        }
    }

    private static string ReadReferenceText()
    {
        var assembly = typeof(FabricConfig).GetTypeInfo().Assembly;
        using var stream = assembly.GetManifestResourceStream(ReferenceResourceName)
            ?? throw new InvalidOperationException($"embedded resource {ReferenceResourceName} is missing from {assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Joins the lines of <paramref name="text"/> into one (for one-line error messages).</summary>
    public static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
