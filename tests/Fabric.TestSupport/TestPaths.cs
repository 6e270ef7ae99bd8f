using System.Diagnostics;

namespace Fabric.Tests;

/// <summary>
/// Where the repository and the shared corpus of real captures are, for every test project
/// (tests/Fabric.TestSupport, referenced by each of them from tests/Directory.Build.props). The corpus ships with
/// the repository in tests/corpus (INDEX.tsv, the captures and their licences); FABRIC_CORPUS
/// overrides. Corpus files are read in place, never copied.
/// </summary>
public static class TestPaths
{
    private static readonly Lazy<string> s_repoRoot = new(FindRepoRoot);
    private static readonly Lazy<string> s_corpusRoot = new(FindCorpusRoot);
    private static readonly Lazy<string> s_publishedConsole = new(PublishConsole);

    /// <summary>The directory holding Fabric.sln.</summary>
    public static string RepoRoot => s_repoRoot.Value;

    /// <summary>The corpus directory (the one holding INDEX.tsv).</summary>
    public static string CorpusRoot => s_corpusRoot.Value;

    /// <summary>Absolute path of a corpus file given as in INDEX.tsv, e.g. <c>zeek/tunnels_vxlan.pcap</c>.</summary>
    public static string Corpus(string relative) => Path.Combine(CorpusRoot, relative);

    /// <summary>
    /// The console as it ships: the NativeAOT executable artifacts/console/fabric that bin/fabric and the .deb run.
    /// The first use in a test process runs scripts/publish-console.sh, which publishes it only when its inputs
    /// changed (test.sh has published it already after the build), so tests never run a stale console.
    /// </summary>
    public static string PublishedConsole => s_publishedConsole.Value;

    private static string PublishConsole()
    {
        var script = Path.Combine(RepoRoot, "scripts", "publish-console.sh");
        var info = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start bash {script}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(20)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new InvalidOperationException($"{script} did not finish within 20 minutes");
        }

        var path = stdout.TrimEnd().Split('\n')[^1];
        if (process.ExitCode != 0 || !File.Exists(path))
        {
            throw new InvalidOperationException($"{script} exited {process.ExitCode} without the executable: {stderr.Result.Trim()}");
        }

        return path;
    }

    private static string FindRepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Fabric.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no Fabric.sln above {AppContext.BaseDirectory}");
    }

    private static string FindCorpusRoot()
    {
        if (Environment.GetEnvironmentVariable("FABRIC_CORPUS") is { Length: > 0 } overridden)
        {
            return overridden;
        }

        var candidate = Path.Combine(RepoRoot, "tests", "corpus");
        if (File.Exists(Path.Combine(candidate, "INDEX.tsv")))
        {
            return candidate;
        }

        throw new InvalidOperationException($"no tests/corpus/INDEX.tsv in {RepoRoot} (set FABRIC_CORPUS to a corpus directory)");
    }
}
