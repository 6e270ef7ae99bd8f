using System.Globalization;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace Fabric.Configuration;

/// <summary>
/// A typed, validating view of one HOCON object. Every getter throws
/// <see cref="FabricConfigException"/> with the full path of the key (e.g.
/// <c>fabric.pipelines[0].capture-cpu</c>) and a one-line problem. Settings classes read their
/// section through it:
/// <code>
/// var http = ConfigReader.At(config, "fabric.management.http");
/// var port = http.GetInt("port", 1, 65535);
/// foreach (var pipeline in ConfigReader.At(config, "fabric").GetObjectList("pipelines")) { ... }
/// </code>
/// </summary>
public sealed class ConfigReader
{
    private readonly Config _config;
    private readonly string _prefix;

    // The element's own keys when this reader reads over a defaults block (WithDefaults): Keys,
    // RejectUnknownKeys and HasOwn look only here; every getter looks in _config, own keys first.
    private readonly Config? _own;

    private ConfigReader(Config config, string prefix, string path, Config? own = null)
    {
        _config = config;
        _prefix = prefix;
        Path = path;
        _own = own;
    }

    /// <summary>The HOCON path of this object, e.g. <c>fabric.management</c> or <c>fabric.pipelines[0]</c>.</summary>
    public string Path { get; }

    /// <summary>A reader for the object at <paramref name="path"/> (which may be absent: every key is then missing).</summary>
    public static ConfigReader At(Config config, string path)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (config.HasPath(path))
        {
            var value = config.GetValue(path);
            if (!value.IsObject())
            {
                throw new FabricConfigException(path, "expected an object { ... }");
            }
        }

        return new ConfigReader(config, path, path);
    }

    /// <summary>
    /// This object read over <paramref name="defaults"/>: a key this object lacks takes the value of the
    /// defaults block (a documented block of hocon/fabric.conf such as <c>fabric.defaults.pipeline</c>), so
    /// the reader never writes a default itself. Errors still name this object's path
    /// (<c>fabric.pipelines[0].sinks[1].rotate-size</c>), also for a bad value that came from the block.
    /// <see cref="Keys"/>, <see cref="RejectUnknownKeys"/> and <see cref="HasOwn"/> see only this object's
    /// own keys.
    /// </summary>
    public ConfigReader WithDefaults(ConfigReader defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        var own = Section();
        return new ConfigReader(own.WithFallback(defaults.Section()), string.Empty, Path, own);
    }

    /// <summary>True when this object itself sets <paramref name="key"/> (not null), whatever its defaults
    /// block says: for keys whose presence means something (<c>dedup { }</c> turns dedup on).</summary>
    public bool HasOwn(string key)
    {
        var own = _own ?? _config;
        var full = Full(key);
        return own.HasPath(full) && !IsNull(own.GetValue(full));
    }

    /// <summary>The full path of <paramref name="key"/> under this object, for error messages.</summary>
    public string PathOf(string key) => Path + "." + key;

    /// <summary>True when <paramref name="key"/> is present and not <c>null</c>.</summary>
    public bool Has(string key)
    {
        var value = Raw(key);
        return value is not null && !IsNull(value);
    }

    /// <summary>A required string. Empty strings are allowed unless <paramref name="allowEmpty"/> is false.</summary>
    public string GetString(string key, bool allowEmpty = true)
    {
        var text = Scalar(key);
        if (!allowEmpty && text.Length == 0)
        {
            throw Problem(key, "must not be empty");
        }

        return text;
    }

    /// <summary>A string that may be absent or <c>null</c>.</summary>
    public string? GetOptionalString(string key) => Has(key) ? Scalar(key) : null;

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int GetInt(string key, int min = int.MinValue, int max = int.MaxValue)
    {
        var value = GetLong(key, min, max);
        return (int)value;
    }

    /// <summary>A 64-bit integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public long GetLong(string key, long min = long.MinValue, long max = long.MaxValue)
    {
        var text = Scalar(key);
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            throw Problem(key, $"expected an integer{RangeText(min, max)}, got \"{text}\"");
        }

        if (value < min || value > max)
        {
            throw Problem(key, $"expected an integer{RangeText(min, max)}, got {value}");
        }

        return value;
    }

    /// <summary>A boolean: true/false, on/off, yes/no.</summary>
    public bool GetBool(string key)
    {
        var text = Scalar(key);
        return text.ToLowerInvariant() switch
        {
            "true" or "on" or "yes" => true,
            "false" or "off" or "no" => false,
            _ => throw Problem(key, $"expected true or false, got \"{text}\""),
        };
    }

    /// <summary>A duration such as <c>500ms</c>, <c>3s</c>, <c>5m</c>, <c>1h</c>, <c>2d</c>.</summary>
    public TimeSpan GetDuration(string key, TimeSpan? min = null, TimeSpan? max = null)
    {
        var text = Scalar(key);
        if (!TryParseDuration(text, out var value))
        {
            throw Problem(key, $"expected a duration such as 500ms, 3s, 5m, 1h, got \"{text}\"");
        }

        if ((min is { } lo && value < lo) || (max is { } hi && value > hi))
        {
            throw Problem(key, $"expected a duration between {Describe(min ?? TimeSpan.Zero)} and {(max is { } m ? Describe(m) : "unbounded")}, got {text}");
        }

        return value;
    }

    /// <summary>A size in bytes such as <c>4096</c>, <c>64KiB</c>, <c>1GiB</c>, <c>100MB</c>.</summary>
    public long GetByteSize(string key, long min = 0, long max = long.MaxValue)
    {
        var text = Scalar(key);
        if (!TryParseByteSize(text, out var value))
        {
            throw Problem(key, $"expected a size such as 4096, 64KiB, 1GiB, got \"{text}\"");
        }

        if (value < min || value > max)
        {
            throw Problem(key, $"expected a size{RangeText(min, max)} bytes, got {text}");
        }

        return value;
    }

    /// <summary>
    /// An enum value written in kebab-case (<c>erspan-ii</c> for <c>ErspanIi</c>) or as its name,
    /// case-insensitive. The error lists the allowed values.
    /// </summary>
    public TEnum GetEnum<TEnum>(string key)
        where TEnum : struct, Enum
    {
        var text = Scalar(key);
        var wanted = text.Replace("-", string.Empty, StringComparison.Ordinal);
        foreach (var name in Enum.GetNames<TEnum>())
        {
            if (string.Equals(name, wanted, StringComparison.OrdinalIgnoreCase))
            {
                return Enum.Parse<TEnum>(name);
            }
        }

        var allowed = string.Join(", ", Enum.GetNames<TEnum>().Select(ToKebab));
        throw Problem(key, $"expected one of {allowed}, got \"{text}\"");
    }

    /// <summary>A list of strings (absent or <c>null</c> gives an empty list).</summary>
    public IReadOnlyList<string> GetStringList(string key)
    {
        var items = List(key);
        var result = new List<string>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (!item.IsString())
            {
                throw new FabricConfigException($"{PathOf(key)}[{i}]", "expected a string");
            }

            result.Add(item.GetString() ?? string.Empty);
        }

        return result;
    }

    /// <summary>
    /// A list of objects, each as a reader that knows its path (<c>fabric.pipelines[0]</c>).
    /// Absent or <c>null</c> gives an empty list.
    /// </summary>
    public IReadOnlyList<ConfigReader> GetObjectList(string key)
    {
        var items = List(key);
        var result = new List<ConfigReader>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var path = $"{PathOf(key)}[{i}]";
            if (!item.IsObject())
            {
                throw new FabricConfigException(path, "expected an object { ... }");
            }

            result.Add(new ConfigReader(new Config(new HoconRoot(item)), string.Empty, path));
        }

        return result;
    }

    /// <summary>A reader for the nested object <paramref name="key"/> (absent: every key is missing).</summary>
    public ConfigReader GetObject(string key)
    {
        var value = Raw(key);
        if (value is not null && !IsNull(value) && !value.IsObject())
        {
            throw Problem(key, "expected an object { ... }");
        }

        return new ConfigReader(_config, Full(key), PathOf(key), _own);
    }

    /// <summary>The keys present in this object.</summary>
    public IReadOnlyCollection<string> Keys
    {
        get
        {
            var config = _own ?? _config;
            var self = _prefix.Length == 0 ? config.Root : (config.HasPath(_prefix) ? config.GetValue(_prefix) : null);
            return self is not null && self.IsObject() ? self.GetObject().Items.Keys.ToList() : [];
        }
    }

    /// <summary>Refuses any key of this object that is not in <paramref name="allowed"/>, naming its path.</summary>
    public void RejectUnknownKeys(params string[] allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        foreach (var key in Keys)
        {
            if (Array.IndexOf(allowed, key) < 0)
            {
                throw Problem(key, $"unknown key (allowed here: {string.Join(", ", allowed)})");
            }
        }
    }

    /// <summary>A <see cref="FabricConfigException"/> for <paramref name="key"/> of this object.</summary>
    public FabricConfigException Problem(string key, string problem) => new(PathOf(key), problem);

    /// <summary>Parses <c>500ms</c>, <c>3s</c>, <c>1.5s</c>, <c>5m</c>, <c>1h</c>, <c>2d</c> (and long unit names).</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (!SplitNumber(text, out var number, out var unit))
        {
            return false;
        }

        double? factorMs = unit switch
        {
            "ns" or "nanos" or "nanosecond" or "nanoseconds" => 1e-6,
            "us" or "micros" or "microsecond" or "microseconds" => 1e-3,
            "ms" or "millis" or "millisecond" or "milliseconds" => 1,
            "" or "s" or "second" or "seconds" => 1000,
            "m" or "minute" or "minutes" => 60_000,
            "h" or "hour" or "hours" => 3_600_000,
            "d" or "day" or "days" => 86_400_000,
            _ => null,
        };
        if (factorMs is null || number < 0)
        {
            return false;
        }

        var ms = number * factorMs.Value;
        if (ms > TimeSpan.MaxValue.TotalMilliseconds)
        {
            return false;
        }

        value = TimeSpan.FromTicks((long)Math.Round(ms * TimeSpan.TicksPerMillisecond));
        return true;
    }

    /// <summary>Parses <c>4096</c>, <c>64KiB</c>, <c>1GiB</c>, <c>100MB</c>, <c>10k</c> (HOCON: single letters are powers of 1024).</summary>
    public static bool TryParseByteSize(string text, out long value)
    {
        value = 0;
        if (!SplitNumber(text, out var number, out var unit))
        {
            return false;
        }

        double? factor = unit switch
        {
            "" or "b" or "B" or "byte" or "bytes" => 1,
            "k" or "K" or "Ki" or "KiB" or "kibibyte" or "kibibytes" => 1024d,
            "m" or "M" or "Mi" or "MiB" or "mebibyte" or "mebibytes" => 1024d * 1024,
            "g" or "G" or "Gi" or "GiB" or "gibibyte" or "gibibytes" => 1024d * 1024 * 1024,
            "t" or "T" or "Ti" or "TiB" or "tebibyte" or "tebibytes" => 1024d * 1024 * 1024 * 1024,
            "kB" or "KB" or "kilobyte" or "kilobytes" => 1e3,
            "MB" or "megabyte" or "megabytes" => 1e6,
            "GB" or "gigabyte" or "gigabytes" => 1e9,
            "TB" or "terabyte" or "terabytes" => 1e12,
            _ => null,
        };
        if (factor is null || number < 0)
        {
            return false;
        }

        var bytes = number * factor.Value;
        if (bytes > long.MaxValue || bytes != Math.Floor(bytes))
        {
            return false;
        }

        value = (long)bytes;
        return true;
    }

    private static bool SplitNumber(string text, out double number, out string unit)
    {
        number = 0;
        unit = string.Empty;
        var trimmed = text.Trim();
        var end = 0;
        while (end < trimmed.Length && (char.IsAsciiDigit(trimmed[end]) || trimmed[end] == '.'))
        {
            end++;
        }

        if (end == 0)
        {
            return false;
        }

        unit = trimmed[end..].Trim();
        return double.TryParse(trimmed.AsSpan(0, end), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out number);
    }

    // This object alone, as a Config rooted at it.
    private Config Section() =>
        _prefix.Length == 0 ? _config : _config.HasPath(_prefix) ? _config.GetConfig(_prefix) : Config.Empty;

    private string Full(string key) => _prefix.Length == 0 ? key : _prefix + "." + key;

    private HoconValue? Raw(string key)
    {
        var full = Full(key);
        return _config.HasPath(full) ? _config.GetValue(full) : null;
    }

    private static bool IsNull(HoconValue value) =>
        value.IsEmpty || (value.IsString() && !value.IsObject() && !value.IsArray() && value.GetString() is null);

    private string Scalar(string key)
    {
        var value = Raw(key);
        if (value is null || IsNull(value))
        {
            throw Problem(key, "missing (required)");
        }

        if (value.IsObject() || value.IsArray() || !value.IsString())
        {
            throw Problem(key, "expected a single value, not an object or a list");
        }

        return value.GetString() ?? string.Empty;
    }

    private IList<HoconValue> List(string key)
    {
        var value = Raw(key);
        if (value is null || IsNull(value))
        {
            return [];
        }

        if (value.IsArray())
        {
            return value.GetArray();
        }

        // Akka's HOCON reports an empty list `[]` as not an array.
        if (value.Values.Any(v => v is HoconArray))
        {
            return [];
        }

        throw Problem(key, "expected a list [ ... ]");
    }

    private static string RangeText(long min, long max) => (min, max) switch
    {
        (long.MinValue or int.MinValue, long.MaxValue or int.MaxValue) => string.Empty,
        (long.MinValue or int.MinValue, _) => $" <= {max}",
        (_, long.MaxValue or int.MaxValue) => $" >= {min}",
        _ => $" {min}-{max}",
    };

    private static string Describe(TimeSpan value) =>
        value.TotalMilliseconds < 1000 ? $"{value.TotalMilliseconds:0.###}ms" : $"{value.TotalSeconds:0.###}s";

    private static string ToKebab(string name)
    {
        var chars = new List<char>(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                chars.Add('-');
            }

            chars.Add(char.ToLowerInvariant(name[i]));
        }

        return new string(chars.ToArray());
    }
}
