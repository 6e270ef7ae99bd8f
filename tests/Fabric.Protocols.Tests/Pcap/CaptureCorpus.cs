using System.Globalization;

namespace Fabric.Protocols.Tests.Pcap;

/// <summary>
/// The corpus of real captures (tests/corpus in the repository, read in place, never copied) and
/// its INDEX.tsv.
/// </summary>
public static class CaptureCorpus
{
    private static readonly Lazy<IReadOnlyList<CorpusEntry>> IndexEntries = new(LoadIndex);

    /// <summary>The directory holding Fabric.sln.</summary>
    public static string RepoRoot => TestPaths.RepoRoot;

    /// <summary>
    /// The corpus directory: tests/corpus in the repository; FABRIC_CORPUS overrides.
    /// </summary>
    public static string Root => TestPaths.CorpusRoot;

    /// <summary>Every capture file listed in INDEX.tsv (oracle text files left out).</summary>
    public static IReadOnlyList<CorpusEntry> Captures => IndexEntries.Value;

    /// <summary>Absolute path of a corpus file given as in INDEX.tsv.</summary>
    public static string PathOf(string relative) => Path.Combine(Root, relative);

    /// <summary>xunit member data: the relative path of every capture.</summary>
    public static TheoryData<string> CaptureNames()
    {
        var data = new TheoryData<string>();
        foreach (var entry in Captures)
        {
            data.Add(entry.Path);
        }

        return data;
    }

    public static CorpusEntry Entry(string relative) => Captures.Single(e => e.Path == relative);

    private static List<CorpusEntry> LoadIndex()
    {
        var index = Path.Combine(Root, "INDEX.tsv");
        var entries = new List<CorpusEntry>();
        foreach (var line in File.ReadLines(index).Skip(1))
        {
            var columns = line.Split('\t');
            if (columns.Length < 10 || !int.TryParse(columns[7], CultureInfo.InvariantCulture, out var packets))
            {
                continue;
            }

            entries.Add(new CorpusEntry(
                columns[0],
                columns[5],
                columns[6],
                packets,
                columns[8],
                columns[9]));
        }

        return entries;
    }
}

/// <summary>One row of INDEX.tsv.</summary>
public sealed record CorpusEntry(string Path, string Encapsulations, string TsharkStacks, int Packets, string Format, string Flags)
{
    public string FullPath => CaptureCorpus.PathOf(Path);

    public override string ToString() => Path;
}
