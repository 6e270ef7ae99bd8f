using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Fabric.Actors.Mirrors.Tc;

/// <summary>A tc (or ip) command that failed: its command line and stderr in one line.</summary>
public sealed class TcCommandException : Exception
{
    public TcCommandException()
    {
    }

    public TcCommandException(string message)
        : base(message)
    {
    }

    public TcCommandException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>One of Fabric's mirred filters as tc shows it.</summary>
internal sealed record TcFilter(int Pref, string ToDevice, string Cookie);

/// <summary>
/// The tc method (backreference.org, as in the seed): a clsact qdisc on the source device and
/// <c>u32 match u32 0 0 action mirred egress mirror dev OUT</c> on its ingress and/or egress
/// (this kernel has no matchall). Fabric's filters carry an action cookie derived from the
/// session name, which is how Fabric recognises its own filters and never touches others.
/// </summary>
internal static class TcCommands
{
    /// <summary>Filter preference of a session: 49152 + hash, stable across restarts.</summary>
    public static int PrefOf(string session) => 49152 + (int)(BitConverterFree(Hash(session)) % 16000);

    /// <summary>The action cookie marking a session's filters (hex, 14 bytes: "fab0" + 12 bytes of SHA-256 of the name).</summary>
    public static string CookieOf(string session) => "fab0" + Convert.ToHexStringLower(Hash(session).AsSpan(0, 12));

    public static bool DeviceExists(string name) => Directory.Exists("/sys/class/net/" + name);

    /// <summary>ifindex of a device, or 0 when it does not exist.</summary>
    public static int IfIndexOf(string name)
    {
        try
        {
            return int.Parse(File.ReadAllText($"/sys/class/net/{name}/ifindex").Trim(), CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Fabric's filters on a device's <paramref name="hook"/> (ingress or egress); empty when the device has no clsact.</summary>
    public static IReadOnlyList<TcFilter> FabricFilters(string device, string hook)
    {
        var (code, stdout, _) = Run("tc", "-j", "filter", "show", "dev", device, hook);
        if (code != 0 || string.IsNullOrWhiteSpace(stdout))
        {
            return [];
        }

        var result = new List<TcFilter>();
        using var doc = JsonDocument.Parse(stdout);
        foreach (var filter in doc.RootElement.EnumerateArray())
        {
            if (!filter.TryGetProperty("options", out var options) || !options.TryGetProperty("actions", out var actions))
            {
                continue;
            }

            var pref = filter.TryGetProperty("pref", out var p) ? p.GetInt32() : 0;
            foreach (var action in actions.EnumerateArray())
            {
                if (action.TryGetProperty("kind", out var kind) && kind.GetString() == "mirred"
                    && action.TryGetProperty("cookie", out var cookie) && cookie.GetString() is { } c && c.StartsWith("fab0", StringComparison.Ordinal))
                {
                    result.Add(new TcFilter(pref, action.TryGetProperty("to_dev", out var to) ? to.GetString() ?? "" : "", c));
                }
            }
        }

        return result;
    }

    /// <summary>Adds clsact to <paramref name="device"/> unless it has one.</summary>
    public static void EnsureClsact(string device)
    {
        var (_, stdout, _) = Run("tc", "qdisc", "show", "dev", device);
        if (!stdout.Contains("clsact", StringComparison.Ordinal))
        {
            Check("tc", "qdisc", "add", "dev", device, "clsact");
        }
    }

    /// <summary>
    /// Installs the session's mirred filter on one hook. u32 "replace" adds another filter under
    /// the same preference instead of replacing it, so the caller deletes the preference first.
    /// </summary>
    public static void AddMirror(string device, string hook, int pref, string output, string cookie) =>
        Check("tc", "filter", "add", "dev", device, hook, "pref", pref.ToString(CultureInfo.InvariantCulture), "protocol", "all",
            "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "mirror", "dev", output, "cookie", cookie);

    /// <summary>Deletes the filters of one preference on a hook (only ever called for Fabric's own).</summary>
    public static void DeleteFilter(string device, string hook, int pref) =>
        Check("tc", "filter", "del", "dev", device, hook, "pref", pref.ToString(CultureInfo.InvariantCulture));

    private static void Check(string file, params string[] args)
    {
        var (code, _, stderr) = Run(file, args);
        if (code != 0)
        {
            throw new TcCommandException($"{file} {string.Join(' ', args)}: {string.Join(' ', stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))}");
        }
    }

    public static (int Code, string Stdout, string Stderr) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new TcCommandException(file + " could not be started");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr);
    }

    private static byte[] Hash(string session) => SHA256.HashData(Encoding.UTF8.GetBytes(session));

    private static uint BitConverterFree(byte[] hash) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(hash);
}
