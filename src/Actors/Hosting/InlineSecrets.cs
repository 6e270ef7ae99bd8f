using Akka.Configuration;
using Fabric.Configuration;

namespace Fabric.Actors.Hosting;

/// <summary>
/// Finds secrets written inline in configuration files that other users of the host can read: the management
/// token and a PostgreSQL connection string with a password. The node starts anyway (a warning, not a refusal:
/// a config kept in a private directory is fine), and names the key, the file and its mode, and the remedy.
/// Secrets kept in their own files (<c>token-file</c>, <c>connection-string-file</c>) are refused when others
/// can read them; this covers the other way of giving them.
/// </summary>
public static class InlineSecrets
{
    /// <summary>The keys that may hold a secret inline, and when their value is one.</summary>
    private static readonly (string Key, Func<string, bool> IsSecret)[] Keys =
    [
        ("fabric.management.token", value => value.Length > 0),
        ("fabric.persistence.postgresql.connection-string", value => value.Contains("password", StringComparison.OrdinalIgnoreCase)),
    ];

    /// <summary>One line for each secret set inline in a file that others can read; empty when there is none.</summary>
    public static IReadOnlyList<string> Warnings(IEnumerable<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var warnings = new List<string>();
        if (OperatingSystem.IsWindows())
        {
            return warnings;
        }

        foreach (var file in files)
        {
            UnixFileMode mode;
            Config config;
            try
            {
                mode = File.GetUnixFileMode(file);
                if ((mode & UnixFileMode.OtherRead) == 0)
                {
                    continue;
                }

                config = FabricConfig.LoadFromText([(file, File.ReadAllText(file))]);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FabricConfigException)
            {
                continue; // the loader reports unreadable or broken files itself
            }

            foreach (var (key, isSecret) in Keys)
            {
                if (config.HasPath(key) && config.GetValue(key) is { } value && !value.IsObject() && !value.IsArray()
                    && isSecret(value.GetString() ?? ""))
                {
                    warnings.Add($"{key} is written in {file}, which other users can read (mode {Convert.ToString((int)mode, 8)}): " +
                        $"move it to {key}-file (chmod 600) or chmod o-r {file}");
                }
            }
        }

        return warnings;
    }
}
