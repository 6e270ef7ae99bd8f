using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace Fabric.System.Tests.Deploy;

/// <summary>
/// Must show 6: docs/configuration.md and hocon/fabric.conf agree. Every key of fabric.conf
/// (parsed with Akka's HOCON parser; a list is one key) has a row in the reference, and every
/// plain row names a key of fabric.conf. Keys of list elements (<c>fabric.pipelines[].sinks[].device</c>)
/// are documented in fabric.conf as commented examples above the list: their names there and
/// in the reference must be the same set (the convention is described in docs/configuration.md).
/// </summary>
public sealed partial class ConfigurationReferenceTests
{
    private static readonly string ConfText = File.ReadAllText(Path.Combine(Run.RepoRoot, "hocon", "fabric.conf"));
    private static readonly string DocText = File.ReadAllText(Path.Combine(Run.RepoRoot, "docs", "configuration.md"));

    [Fact]
    public void Every_key_of_fabric_conf_is_in_the_reference_and_every_plain_row_is_a_key()
    {
        var keys = ConfKeys();
        var documented = DocKeys().Where(k => !k.Contains("[]", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);

        Assert.True(keys.Count > 40, $"parsed only {keys.Count} keys");
        var problems = keys.Except(documented).Select(k => "not documented in docs/configuration.md: " + k)
            .Concat(documented.Except(keys).Select(k => "documented but not in hocon/fabric.conf: " + k))
            .Order(StringComparer.Ordinal).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [InlineData("pipelines")]
    [InlineData("sites")]
    [InlineData("mirrors")]
    public void List_element_keys_are_the_same_in_the_commented_example_and_the_reference(string list)
    {
        var prefix = $"fabric.{list}[].";
        var documented = DocKeys()
            .Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
            .Select(k => k[(k.LastIndexOf('.') + 1)..])
            .ToHashSet(StringComparer.Ordinal);
        var commented = CommentedKeys(list);

        Assert.NotEmpty(commented);
        var problems = commented.Except(documented).Select(k => $"in fabric.conf's example of {list}, not in docs/configuration.md: {k}")
            .Concat(documented.Except(commented).Select(k => $"in docs/configuration.md, not in fabric.conf's example of {list}: {k}"))
            .Order(StringComparer.Ordinal).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>Leaf paths of fabric.conf (objects are walked, lists and values are leaves).</summary>
    private static HashSet<string> ConfKeys()
    {
        var config = ConfigurationFactory.ParseString(ConfText);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        Walk("", config.Root.GetObject(), keys);
        return keys;
    }

    private static void Walk(string path, HoconObject node, HashSet<string> keys)
    {
        foreach (var (key, value) in node.Items)
        {
            var child = path.Length == 0 ? key : path + "." + key;
            if (value.IsObject() && value.GetObject().Items.Count > 0)
            {
                Walk(child, value.GetObject(), keys);
            }
            else
            {
                keys.Add(child);
            }
        }
    }

    /// <summary>The keys in the first column of the reference's tables.</summary>
    private static List<string> DocKeys() =>
        DocRow().Matches(DocText).Select(m => m.Groups["key"].Value).ToList();

    /// <summary>
    /// Key names in the comment block right above <c>list = []</c> in fabric.conf: commented
    /// lines <c>#   key = value</c>, <c>#   key {</c>, <c>#   { key = value</c> or <c>#   key  - text</c>,
    /// and inside such lines <c>{ key = value, key = value }</c>.
    /// </summary>
    private static HashSet<string> CommentedKeys(string list)
    {
        var lines = ConfText.Split('\n');
        var end = Array.FindIndex(lines, l => Regex.IsMatch(l, $@"^\s*{Regex.Escape(list)}\s*=\s*\[\]\s*$"));
        Assert.True(end > 0, $"no `{list} = []` in hocon/fabric.conf");
        var start = end;
        while (start > 0 && (lines[start - 1].TrimStart().StartsWith('#') || lines[start - 1].Trim().Length == 0))
        {
            start--;
        }

        var block = lines[start..end];
        return block.Select(l => CommentedKey().Match(l)).Where(m => m.Success)
            .Concat(block.SelectMany(l => InlineKey().Matches(l)))
            .Select(m => m.Groups["key"].Value)
            .ToHashSet(StringComparer.Ordinal);
    }

    [GeneratedRegex(@"(?<=^\s*#.*)(?:\{|,)\s*(?<key>[a-z][a-z0-9-]*)\s*=")]
    private static partial Regex InlineKey();

    [GeneratedRegex(@"^\| `(?<key>(?:fabric|akka)\.[^`]+)` \|", RegexOptions.Multiline)]
    private static partial Regex DocRow();

    [GeneratedRegex(@"^\s*#\s+(?:\{\s*)?(?<key>[a-z][a-z0-9-]*)(?:\s*=|\s*\{|\s+- )")]
    private static partial Regex CommentedKey();
}
