namespace Fabric.Actors.Tests;

/// <summary>The shared corpus of real captures: ../shared/corpus from the directory holding Fabric.sln
/// (from a git worktree one level further up); FABRIC_CORPUS overrides. Read in place, never copied.</summary>
internal static class Corpus
{
    private static readonly Lazy<string> RootPath = new(Find);

    public static string Root => RootPath.Value;

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    private static string Find()
    {
        if (Environment.GetEnvironmentVariable("FABRIC_CORPUS") is { Length: > 0 } overridden)
        {
            return overridden;
        }

        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Fabric.sln")))
        {
            directory = directory.Parent;
        }

        if (directory is null)
        {
            throw new InvalidOperationException($"no Fabric.sln above {AppContext.BaseDirectory}");
        }

        for (var up = directory; up is not null; up = up.Parent)
        {
            string candidate = Path.Combine(up.FullName, "..", "shared", "corpus");
            if (File.Exists(Path.Combine(candidate, "INDEX.tsv")))
            {
                return Path.GetFullPath(candidate);
            }
        }

        throw new InvalidOperationException($"no ../shared/corpus/INDEX.tsv above {directory.FullName}");
    }
}
