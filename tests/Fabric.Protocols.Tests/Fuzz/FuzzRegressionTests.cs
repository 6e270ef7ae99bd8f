using Fabric.Fuzz;
using Fabric.Protocols.Tests.Pcap;

namespace Fabric.Protocols.Tests.Fuzz;

/// <summary>
/// Must show 6: every input that once crashed a fuzz target (tests/Fabric.Fuzz/regressions/TARGET)
/// and every committed seed (tests/Fabric.Fuzz/seeds/TARGET) runs through the same target code as
/// AFL++ runs (FuzzTargets.cs is linked into this project), which throws on any exception or broken
/// invariant.
/// </summary>
public sealed class FuzzRegressionTests
{
    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        var fuzz = Path.Combine(CaptureCorpus.RepoRoot, "tests", "Fabric.Fuzz");
        foreach (var kind in new[] { "regressions", "seeds" })
        {
            foreach (var target in FuzzTargets.Names)
            {
                var directory = Path.Combine(fuzz, kind, target);
                if (!Directory.Exists(directory))
                {
                    continue;
                }

                foreach (var file in Directory.EnumerateFiles(directory).Where(f => !f.EndsWith(".md", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
                {
                    data.Add(target, Path.GetRelativePath(fuzz, file));
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Fuzz_input_runs_through_its_target_without_a_crash(string target, string file)
    {
        var bytes = File.ReadAllBytes(Path.Combine(CaptureCorpus.RepoRoot, "tests", "Fabric.Fuzz", file));

        var error = Record.Exception(() => FuzzTargets.Run(target, bytes));

        Assert.Null(error);
    }

    [Fact]
    public void An_unknown_target_is_refused_rather_than_passing_silently()
    {
        Assert.Throws<ArgumentException>(() => FuzzTargets.Run("no-such-target", [1, 2, 3]));
    }
}
