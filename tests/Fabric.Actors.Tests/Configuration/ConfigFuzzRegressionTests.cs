using Fabric.Configuration;
using Fabric.Fuzz;

namespace Fabric.Actors.Tests.Configuration;

/// <summary>
/// Must show 6 (hocon target): every input that once crashed the <c>hocon</c> fuzz target
/// (tests/Fabric.Fuzz/regressions/hocon), and its seeds (hocon/fabric.conf, hocon/examples/*.conf),
/// run through the same target code as AFL++ runs (ConfigFuzzTarget.cs is linked into this project):
/// only a one-line <see cref="FabricConfigException"/> that starts with its path may come out.
/// </summary>
public sealed class ConfigFuzzRegressionTests
{
    public static TheoryData<string> Inputs()
    {
        var data = new TheoryData<string>();
        var regressions = Path.Combine(TestPaths.RepoRoot, "tests", "Fabric.Fuzz", "regressions", ConfigFuzzTarget.Name);
        var files = Directory.EnumerateFiles(regressions).Where(f => !f.EndsWith(".md", StringComparison.Ordinal))
            .Append(Path.Combine(TestPaths.RepoRoot, "hocon", "fabric.conf"))
            .Concat(Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "hocon", "examples"), "*.conf"));
        foreach (var file in files.Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(TestPaths.RepoRoot, file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Hocon_input_runs_through_the_target_without_a_crash(string file)
    {
        var bytes = File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, file));

        var error = Record.Exception(() => ConfigFuzzTarget.Run(bytes));

        Assert.Null(error);
    }

    [Fact]
    public void There_are_regression_inputs_for_the_hocon_target()
    {
        var regressions = Path.Combine(TestPaths.RepoRoot, "tests", "Fabric.Fuzz", "regressions", ConfigFuzzTarget.Name);

        Assert.Contains(Directory.EnumerateFiles(regressions), f => !f.EndsWith(".md", StringComparison.Ordinal));
    }

    [Fact]
    public void A_value_with_a_line_break_is_reported_on_one_line()
    {
        var config = FabricConfig.LoadFromText([("x.conf", "fabric.pipelines = [ { name = \"a\\nb\", source { interface = eth9 } } ]")]);

        var error = Assert.Throws<FabricConfigException>(() => Fabric.Actors.Pipelines.PipelineSettingsReader.Read(config));

        Assert.Equal("fabric.pipelines[0].name: expected lower-case letters, digits and '-' (at most 40), got \"a\\nb\"", error.Message);
    }

    [Fact]
    public void An_include_is_refused_with_the_file_name_instead_of_crashing_the_parser()
    {
        var error = Assert.Throws<FabricConfigException>(() => FabricConfig.LoadFromText([("site.conf", "include \"other.conf\"\nfabric.pipelines = []")]));

        Assert.Equal("site.conf: include \"other.conf\" is not supported: give each file with its own --config (later files win)", error.Message);
    }

    [Fact]
    public void A_character_hocon_forbids_outside_quotes_is_refused_with_its_line_and_column()
    {
        var error = Assert.Throws<FabricConfigException>(() => FabricConfig.LoadFromText([("x.conf", "a = 1\nb = [ ! ]")]));

        Assert.Equal("x.conf: not valid HOCON: line 2, column 7: '!' is not allowed outside quotes (quote the value)", error.Message);
    }

    [Fact]
    public void Forbidden_characters_inside_quotes_and_comments_are_accepted()
    {
        var config = FabricConfig.LoadFromText([("x.conf", "# a comment with ! and `\na = \"x!y\" // also ! here\nb = \"\"\"multi\n!line\"\"\"\nc = ${?a}")]);

        Assert.Equal("x!y", config.GetString("a"));
        Assert.Equal("multi\n!line", config.GetString("b"));
    }

    [Fact]
    public void A_file_the_hocon_parser_loops_on_is_refused_after_the_time_limit()
    {
        var error = Assert.Throws<FabricConfigException>(() => FabricConfig.LoadFromText([("loop.conf", "a = [ : ]")]));

        Assert.StartsWith("loop.conf: not valid HOCON: the parser did not finish within 10 s", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a = [ 1 = ]", "line 1, column 9: '=' directly inside a list")]
    [InlineData("a = [\n  { b = 1 }\n  } ]", "line 3, column 3: '}' inside a list closes no object")]
    [InlineData("a = [ ${?x} ]", "line 1, column 7: an optional substitution ${?...} inside a list is not supported")]
    [InlineData("a = $x", "line 1, column 5: '$' is not allowed outside quotes")]
    public void What_the_hocon_parser_loops_on_is_refused_with_its_line_and_column(string text, string problem)
    {
        var error = Assert.Throws<FabricConfigException>(() => FabricConfig.LoadFromText([("x.conf", text)]));

        Assert.StartsWith("x.conf: not valid HOCON: " + problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Optional_substitutions_stay_allowed_outside_lists_and_plain_ones_inside()
    {
        var config = FabricConfig.LoadFromText([("x.conf", "x = 1\na = [ ${x} ]\nc = ${?NO_SUCH_FPF_VARIABLE}")]);

        Assert.Equal(["1"], config.GetStringList("a"));
    }
}
