using Fabric.System.Tests.Deploy;

namespace Fabric.System.Tests.Repository;

/// <summary>
/// Issue 12, Must show 2: nothing in the repository refers to the team's shared folder beside the
/// clone (a user's clone has none). The corpus lives in tests/corpus; only Markdown may mention the
/// old location, as history. test.sh's fresh-clone step shows the same from the other side (a
/// clone in an empty directory passes the Protocols tests and builds the fuzz seeds).
/// </summary>
public sealed class StandsAloneTests
{
    // Written in two pieces so that this file is not itself a hit.
    private static readonly string SharedCorpus = "shared" + "/corpus";
    private static readonly string ParentShared = @"\.\./" + "shared";

    [Fact]
    public void No_file_outside_the_docs_refers_to_the_shared_corpus_or_to_the_folder_beside_the_clone()
    {
        foreach (var (pattern, fixedString) in new[] { (SharedCorpus, true), (ParentShared, false) })
        {
            var arguments = new List<string> { "-C", Run.RepoRoot, "grep", "-n", "-I" };
            arguments.Add(fixedString ? "-F" : "-E");
            arguments.AddRange(["-e", pattern, "--", ".", ":!*.md"]);
            var grep = Run.Process("git", TimeSpan.FromSeconds(60), arguments);

            // git grep: 1 = no match, 0 = matches (listed), anything else = an error (not a git clone?).
            Assert.True(grep.ExitCode is 0 or 1, $"git grep failed in {Run.RepoRoot}: {grep}");
            Assert.True(grep.ExitCode == 1, $"files refer to '{pattern}':\n{grep.Stdout}");
        }
    }

    [Fact]
    public void The_corpus_index_lists_only_files_that_are_in_the_repository_each_with_a_licence_text()
    {
        var root = Path.Combine(Run.RepoRoot, "tests", "corpus");
        var rows = File.ReadAllLines(Path.Combine(root, "INDEX.tsv")).Skip(1)
            .Select(line => line.Split('\t')).Where(columns => columns.Length >= 5).ToList();
        Assert.True(rows.Count > 100, $"INDEX.tsv has only {rows.Count} rows");

        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var tracked = Run.Process("git", TimeSpan.FromSeconds(60), ["-C", Run.RepoRoot, "ls-files", "tests/corpus"]);
        Assert.True(tracked.ExitCode == 0, tracked.ToString());
        var trackedFiles = tracked.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);

        var problems = new List<string>();
        foreach (var columns in rows)
        {
            var (path, licence) = (columns[0], columns[4]);
            if (!trackedFiles.Contains("tests/corpus/" + path))
            {
                problems.Add($"INDEX.tsv lists {path}, which is not tracked in tests/corpus");
            }

            var folder = path.Split('/')[0];
            var row = readme.Split('\n').FirstOrDefault(line => line.StartsWith($"| `{folder}/`", StringComparison.Ordinal));
            if (row is null || !row.Contains(licence, StringComparison.Ordinal))
            {
                problems.Add($"tests/corpus/README.md has no row for {folder}/ under {licence}");
                continue;
            }

            foreach (var text in row.Split('`').Where(part => part.StartsWith("licences/", StringComparison.Ordinal)))
            {
                if (!File.Exists(Path.Combine(root, text)))
                {
                    problems.Add($"tests/corpus/README.md names {text}, which does not exist");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems.Distinct()));
    }
}
