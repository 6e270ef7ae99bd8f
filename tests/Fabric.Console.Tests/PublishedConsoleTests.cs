using System.Text.Json;

namespace Fabric.Console.Tests;

/// <summary>
/// Issue 16, Must show 3: the console as it ships (the NativeAOT executable of scripts/publish-console.sh, run by
/// bin/fabric and installed by the .deb) behaves exactly like the JIT build of the same sources (fabric.dll beside
/// these tests, run by the dotnet host): the same help, the same one-line HOCON errors and exit codes, and the same
/// bytes from <c>fabric decap</c> on corpus captures. What NativeAOT could break (reflection, trimmed code paths,
/// HOCON read through Akka.Configuration, JSON output) is on these paths.
/// </summary>
public sealed class PublishedConsoleTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fc-published-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void The_published_console_is_a_native_executable_not_a_managed_assembly()
    {
        var published = TestPaths.PublishedConsole;
        Assert.Equal([0x7f, (byte)'E', (byte)'L', (byte)'F'], File.ReadAllBytes(published)[..4]);
        Assert.False(File.Exists(Path.ChangeExtension(published, ".dll")), "a NativeAOT publish has no fabric.dll");
        var version = ExternalTool.Run(published, "--version");
        Assert.Equal(0, version.ExitCode);
        Assert.Equal(Jit("--version"), version);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("decap", "--help")]
    [InlineData("mirrors", "add", "--help")]
    [InlineData("pipelines", "stats", "--help")]
    public void Help_is_the_same_as_the_jit_builds(params string[] arguments)
    {
        var native = Native(arguments);

        Assert.Equal(0, native.ExitCode);
        Assert.Contains("Usage:", native.Stdout, StringComparison.Ordinal);
        Assert.Equal(Jit(arguments), native);
    }

    [Fact]
    public void Every_command_group_is_listed_in_the_help()
    {
        // ConsoleApp.Groups() is an explicit list (no reflection under NativeAOT): each group's command appears.
        var help = Native("--help").Stdout;
        foreach (var command in new[] { "cluster", "decap <IN> <OUT>", "mirrors", "pipelines", "sites", "top" })
        {
            Assert.Contains("\n  " + command + " ", help, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("fabric.decap { max-depth = banana }\n", "fabric.decap.max-depth")]    // a bad value
    [InlineData("fabric.decap { vxlan-port = [4789] }\n", "fabric.decap.vxlan-port")]  // an unknown key
    [InlineData("fabric.decap { max-depth = \n", "")]                                 // not HOCON at all
    public void A_bad_config_file_is_one_line_naming_it_and_exit_2_as_in_the_jit_build(string hocon, string path)
    {
        var config = Path.Combine(_directory, "bad.conf");
        File.WriteAllText(config, hocon);
        var output = Path.Combine(_directory, "inner.pcap");
        string[] arguments = ["decap", TestPaths.Corpus("zeek/erspanII.pcap"), output, "--config", config];

        var native = Native(arguments);

        Assert.Equal(2, native.ExitCode);
        Assert.Equal("", native.Stdout);
        var line = Assert.Single(native.Stderr.TrimEnd('\n').Split('\n'));
        Assert.StartsWith($"fabric: --config {config}: ", line, StringComparison.Ordinal);
        Assert.Contains(path, line, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.Equal(Jit(arguments), native);
    }

    [Theory]
    [InlineData("tcpdump/erspan-type-ii-3.pcap", "pcap")]           // ERSPAN II, 108 frames
    [InlineData("arkime/gre-erspan-vxlan.pcap", "pcap")]            // ERSPAN II -> VXLAN-GPE, nested
    [InlineData("tcpdump/gre-heapoverflow-2.pcap", "pcap")]         // malformed: counted, nothing written
    [InlineData("zeek/erspanIII.pcap", "pcapng")]                   // ERSPAN III directions in pcapng
    [InlineData("suricata-verify/vxlan-decoder-03_vxlan.pcap", "pcapng")] // AWS Traffic Mirroring VXLAN
    public void Decap_output_is_byte_identical_to_the_jit_builds(string capture, string format)
    {
        var input = TestPaths.Corpus(capture);
        var nativeOut = Path.Combine(_directory, "native.out");
        var jitOut = Path.Combine(_directory, "jit.out");

        var native = Native("decap", input, nativeOut, "--format", format, "--json");
        var jit = Jit("decap", input, jitOut, "--format", format, "--json");

        Assert.True(native.ExitCode == 0, native.Stderr);
        Assert.Equal(jit.ExitCode, native.ExitCode);
        Assert.Equal(jit.Stderr, native.Stderr);
        // The reports differ only in the output path each was given.
        Assert.Equal(jit.Stdout.Replace(JsonEncodedText.Encode(jitOut).ToString(), "OUT", StringComparison.Ordinal),
            native.Stdout.Replace(JsonEncodedText.Encode(nativeOut).ToString(), "OUT", StringComparison.Ordinal));
        Assert.True(new FileInfo(nativeOut).Length > 0);
        Assert.Equal(File.ReadAllBytes(jitOut), File.ReadAllBytes(nativeOut));
    }

    [Fact]
    public void Decap_table_output_is_the_same_as_the_jit_builds()
    {
        var input = TestPaths.Corpus("suricata-verify/vxlan-decoder-01_input.pcap");
        var nativeOut = Path.Combine(_directory, "native.pcap");
        var jitOut = Path.Combine(_directory, "jit.pcap");

        var native = Native("decap", input, nativeOut);
        var jit = Jit("decap", input, jitOut);

        Assert.Equal(0, native.ExitCode);
        Assert.Contains("read 3 records, wrote 1 inner frames", native.Stdout, StringComparison.Ordinal);
        Assert.Equal(jit.Stdout.Replace(jitOut, "OUT", StringComparison.Ordinal), native.Stdout.Replace(nativeOut, "OUT", StringComparison.Ordinal));
        Assert.Equal(File.ReadAllBytes(jitOut), File.ReadAllBytes(nativeOut));
    }

    private static ToolResult Native(params string[] arguments) => ExternalTool.Run(TestPaths.PublishedConsole, arguments);

    /// <summary>The JIT build of the same sources: fabric.dll beside the tests (this project references the console).</summary>
    private static ToolResult Jit(params string[] arguments) =>
        ExternalTool.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "fabric.dll"), .. arguments]);
}
