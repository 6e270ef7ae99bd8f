using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Fabric.System.Tests.Deploy;

/// <summary>
/// The Debian 12 root the systemd tests boot: <c>debootstrap --variant=minbase</c> with systemd,
/// the .deb's dependencies and python3 (Ansible's modules), from the Debian mirror this machine's
/// apt already uses. Cached under /var/tmp/fabric-nspawn/&lt;hash of suite, variant, mirror and
/// package list&gt; so a rerun does not pay for it again; built into a temporary directory and renamed
/// into place, so an interrupted build never leaves a half root in the cache. Each run boots a copy
/// (<c>cp -a --reflink=auto</c>), never the cached root itself.
/// </summary>
internal static partial class NspawnRoot
{
    public const string Suite = "bookworm";

    private const string Variant = "minbase";

    private const string CacheDirectory = "/var/tmp/fabric-nspawn";

    /// <summary>
    /// systemd and what the brief's container needs (dbus, libpcap, iproute2, procps), the .deb's
    /// Depends (deploy/deb/debian/control: libc6, libgcc-s1, libstdc++6, zlib1g, libicu72, libssl3,
    /// passwd), and python3 with python3-apt for the Ansible role's modules (apt: deb=).
    /// </summary>
    public static readonly string[] Packages =
    [
        "systemd", "systemd-sysv", "dbus", "libpcap0.8", "iproute2", "procps",
        "libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libicu72", "libssl3", "passwd",
        "python3", "python3-apt",
    ];

    /// <summary>The cached root (built now if missing); throws with debootstrap's output if it cannot be built.</summary>
    public static string Cached()
    {
        var mirror = DebianMirror();
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{Suite}\n{Variant}\n{mirror}\n{string.Join(',', Packages.Order(StringComparer.Ordinal))}\n")))[..16];
        var cached = Path.Combine(CacheDirectory, $"{Suite}-{key}");
        if (File.Exists(Path.Combine(cached, "usr/lib/systemd/systemd")))
        {
            return cached;
        }

        Directory.CreateDirectory(CacheDirectory);
        var building = Path.Combine(CacheDirectory, $".building-{key}-{Environment.ProcessId}");
        try
        {
            var debootstrap = Run.Process(
                "debootstrap",
                TimeSpan.FromMinutes(15),
                [$"--variant={Variant}", "--include=" + string.Join(',', Packages), Suite, building, mirror]);
            if (debootstrap.ExitCode != 0)
            {
                throw new InvalidOperationException($"debootstrap of {Suite} from {mirror} failed: {debootstrap}");
            }

            try
            {
                Directory.Move(building, cached);
            }
            catch (IOException) when (File.Exists(Path.Combine(cached, "usr/lib/systemd/systemd")))
            {
                // Another test run built the same key meanwhile: use that one.
            }
        }
        finally
        {
            if (Directory.Exists(building))
            {
                Run.Process("rm", "-rf", "--one-file-system", building);
            }
        }

        return cached;
    }

    /// <summary>
    /// The first Debian mirror serving <see cref="Suite"/> in this machine's apt sources (deb822
    /// .sources stanzas or one-line .list entries).
    /// </summary>
    public static string DebianMirror()
    {
        var files = new List<string>();
        if (File.Exists("/etc/apt/sources.list"))
        {
            files.Add("/etc/apt/sources.list");
        }

        if (Directory.Exists("/etc/apt/sources.list.d"))
        {
            files.AddRange(Directory.GetFiles("/etc/apt/sources.list.d").Where(f => f.EndsWith(".list", StringComparison.Ordinal) || f.EndsWith(".sources", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        }

        foreach (var file in files)
        {
            var text = File.ReadAllText(file);
            if (file.EndsWith(".sources", StringComparison.Ordinal))
            {
                foreach (var stanza in Regex.Split(text, @"\n\s*\n"))
                {
                    var fields = StanzaField().Matches(stanza).ToDictionary(m => m.Groups[1].Value.ToLowerInvariant(), m => m.Groups[2].Value.Trim());
                    if (fields.GetValueOrDefault("types", "").Split(' ').Contains("deb")
                        && fields.GetValueOrDefault("suites", "").Split(' ').Contains(Suite)
                        && fields.GetValueOrDefault("enabled", "yes") != "no"
                        && fields.TryGetValue("uris", out var uris))
                    {
                        return uris.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
                    }
                }
            }
            else
            {
                var line = OneLineSource().Match(text);
                if (line.Success)
                {
                    return line.Groups[1].Value;
                }
            }
        }

        throw new InvalidOperationException($"no apt source for Debian {Suite} in /etc/apt/sources.list or /etc/apt/sources.list.d: debootstrap needs a mirror");
    }

    [GeneratedRegex(@"^([A-Za-z-]+):[ \t]*(.*)$", RegexOptions.Multiline)]
    private static partial Regex StanzaField();

    [GeneratedRegex(@"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+" + Suite + @"\s", RegexOptions.Multiline)]
    private static partial Regex OneLineSource();
}
