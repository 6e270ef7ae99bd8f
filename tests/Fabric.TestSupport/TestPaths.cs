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

    /// <summary>The directory holding Fabric.sln.</summary>
    public static string RepoRoot => s_repoRoot.Value;

    /// <summary>The corpus directory (the one holding INDEX.tsv).</summary>
    public static string CorpusRoot => s_corpusRoot.Value;

    /// <summary>Absolute path of a corpus file given as in INDEX.tsv, e.g. <c>zeek/tunnels_vxlan.pcap</c>.</summary>
    public static string Corpus(string relative) => Path.Combine(CorpusRoot, relative);

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
