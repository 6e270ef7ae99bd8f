using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fabric.Protocols.Pcap;

namespace Fabric.System.Tests.Console;

/// <summary>
/// Must show 7 (and 3 at the file level): the published <c>fabric</c> executable (NativeAOT), run as a process, on
/// corpus captures read in place: the output is read by tcpdump with the expected frame count,
/// malformed captures are counted under named outcomes, and error cases exit non-zero with one clear
/// line on stderr and nothing half-written.
/// </summary>
public sealed partial class DecapCommandProcessTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fq-decap-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // Expected counts from INDEX.tsv's tshark column for the same file (every frame is a tunnel packet):
    [Theory]
    [InlineData("tcpdump/vxlan.pcap", 10)]                                  // ip:udp:vxlan:eth:ip:icmp:data(8); ip:udp:vxlan:eth:arp(2)
    [InlineData("tcpdump/vxlan_port_8472.pcap", 10)]                        // VXLAN on 8472, Fabric's default port list has it
    [InlineData("tcpdump/erspan-type-ii-3.pcap", 108)]                      // ERSPAN II: stp(70); vlan:llc:ndp(28); vlan:arp(10)
    [InlineData("zeek/erspanIII.pcap", 2)]                                  // ERSPAN III ICMP(2)
    [InlineData("arkime/gre-erspan-vxlan.pcap", 7)]                         // ERSPAN II -> VXLAN-GPE, nested (7)
    [InlineData("suricata-verify/vxlan-decoder-03_vxlan.pcap", 100)]        // real AWS Traffic Mirroring (100)
    [InlineData("zeek/tunnels_geneve-vxlan-dns-truncated.pcap", 2)]         // GWLB Geneve -> VXLAN, truncated by snaplen (2)
    [InlineData("zeek/vntag.pcap", 0)]                                      // VN-Tag, no tunnel: nothing to write (nanosecond pcap)
    public void Decap_of_a_corpus_capture_is_read_by_tcpdump_with_the_expected_frame_count(string name, int frames)
    {
        var output = Path.Combine(_directory, "inner.pcap");

        var run = Fabric("decap", Corpus(name), output, "--json");

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal("", run.Stderr);
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.Equal(frames, json.RootElement.GetProperty("written").GetInt64());
        Assert.Equal(frames, ExternalTool.TcpdumpCount(output));
        Assert.Empty(Directory.GetFiles(_directory, "*.partial"));
    }

    // Must show 3 at the file level: each bad packet is counted under a named outcome, the run succeeds.
    [Theory]
    [InlineData("tcpdump/gre-heapoverflow-1.pcap", "ip-bad-version")]
    [InlineData("tcpdump/gre-heapoverflow-2.pcap", "gre-routing-unsupported")]
    [InlineData("tcpdump/erspan-type-iii-pb-1.pcap", "truncated")]
    [InlineData("tcpdump/erspan-type-iii-ft-7.pcap", "erspan-frame-type-unsupported")]
    [InlineData("zeek/tunnels_geneve-truncated.pcapng", "truncated")]
    public void Malformed_corpus_capture_is_counted_under_a_named_outcome(string name, string outcome)
    {
        var output = Path.Combine(_directory, "inner.pcap");

        var run = Fabric("decap", Corpus(name), output, "--json");

        Assert.True(run.ExitCode == 0, run.Stderr);
        using var json = JsonDocument.Parse(run.Stdout);
        var outcomes = json.RootElement.GetProperty("outcomes").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
        Assert.True(outcomes.ContainsKey(outcome), $"outcomes: {string.Join(", ", outcomes)}");
        Assert.Equal(json.RootElement.GetProperty("records").GetInt64(), outcomes.Values.Sum());
        Assert.Equal(0, ExternalTool.TcpdumpCount(output));
    }

    [Fact]
    public void Table_output_names_the_outcomes_and_the_counts()
    {
        var output = Path.Combine(_directory, "inner.pcap");

        var run = Fabric("decap", Corpus("suricata-verify/vxlan-decoder-01_input.pcap"), output);

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Matches(@"│ ok\s+│\s+1 │", run.Stdout);
        Assert.Matches(@"│ not-encapsulated\s+│\s+2 │", run.Stdout);
        Assert.Contains("read 3 records, wrote 1 inner frames", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Config_file_sets_the_policy_like_the_node()
    {
        // packetnet/vxlan_custom_port.pcap: VXLAN on UDP 65530, not a default port.
        var config = Path.Combine(_directory, "decap.conf");
        File.WriteAllText(config, "fabric.decap { vxlan-ports = [4789, 65530] }\n");
        var output = Path.Combine(_directory, "inner.pcap");

        var defaults = Fabric("decap", Corpus("packetnet/vxlan_custom_port.pcap"), output, "--json");
        var configured = Fabric("decap", Corpus("packetnet/vxlan_custom_port.pcap"), output, "--json", "--config", config);

        Assert.Equal(0, defaults.ExitCode);
        Assert.Equal(0, JsonDocument.Parse(defaults.Stdout).RootElement.GetProperty("written").GetInt64());
        Assert.Equal(0, configured.ExitCode);
        Assert.Equal(1, JsonDocument.Parse(configured.Stdout).RootElement.GetProperty("written").GetInt64());
        Assert.Equal(1, ExternalTool.TcpdumpCount(output));
    }

    [Fact]
    public void Raw_ip_packets_passed_through_get_an_ethernet_header()
    {
        // A LINKTYPE_RAW capture of one IPv4 and one IPv6 UDP packet, no tunnel; the policy passes them.
        byte[] ipv4 = [0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x03, 0xE8, 0, 53, 0, 8, 0, 0];
        byte[] ipv6 = [0x60, 0, 0, 0, 0, 8, 17, 64, .. new byte[15], 1, .. new byte[15], 2, 0x03, 0xE8, 0, 53, 0, 8, 0, 0];
        var raw = Path.Combine(_directory, "raw.pcap");
        using (var writer = PcapWriter.Create(raw, LinkTypes.Raw))
        {
            writer.Write(ipv4, 1_000_000_000, ipv4.Length);
            writer.Write(ipv6, 2_000_000_000, ipv6.Length);
        }

        var config = Path.Combine(_directory, "pass.conf");
        File.WriteAllText(config, "fabric.decap { non-encapsulated = pass }\n");
        var output = Path.Combine(_directory, "inner.pcap");

        var run = Fabric("decap", raw, output, "--config", config, "--json");

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Equal(2, JsonDocument.Parse(run.Stdout).RootElement.GetProperty("outcomes").GetProperty("passed-through").GetInt64());
        var tcpdump = ExternalTool.Run("tcpdump", "-n", "-e", "-r", output);
        Assert.True(tcpdump.ExitCode == 0, tcpdump.Stderr);
        var lines = tcpdump.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains("ethertype IPv4 (0x0800), length 42: 10.0.0.1.1000 > 10.0.0.2.53", lines[0], StringComparison.Ordinal);
        Assert.Contains("ethertype IPv6 (0x86dd), length 62: ::1.1000 > ::2.53", lines[1], StringComparison.Ordinal);
    }

    // Issue 15: --format pcapng, one interface per mirror session; with --timestamps switch, ERSPAN III's time
    // (zeek/erspanIII.pcap: Gra 0 = 100 us; tshark -e erspan.timestamp: 5208 and 5251; directions 0 and 1).
    [Fact]
    public void Decap_to_pcapng_names_the_session_and_keeps_erspan_iii_direction_and_switch_time()
    {
        var output = Path.Combine(_directory, "inner.pcapng");

        var run = Fabric("decap", Corpus("zeek/erspanIII.pcap"), output, "--format", "pcapng", "--timestamps", "switch", "--json");

        Assert.True(run.ExitCode == 0, run.Stderr);
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.Equal("pcapng", json.RootElement.GetProperty("outputFormat").GetString());
        Assert.Equal(2, json.RootElement.GetProperty("sources").GetProperty("erspan 10.0.0.1 session 0").GetInt64());
        var tshark = ExternalTool.Run("tshark", "-r", output, "-T", "fields", "-E", "separator=|", "-e", "frame.interface_name",
            "-e", "frame.packet_flags_direction", "-e", "frame.time_epoch");
        Assert.True(tshark.ExitCode == 0, tshark.Stderr);
        Assert.Equal(["erspan 10.0.0.1 session 0|0x00000001|0.520800000", "erspan 10.0.0.1 session 0|0x00000002|0.525100000"], tshark.Lines);
    }

    [Fact]
    public void Switch_timestamps_without_pcapng_exit_2()
    {
        var run = Fabric("decap", Corpus("zeek/erspanIII.pcap"), Path.Combine(_directory, "x.pcap"), "--timestamps", "switch");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--timestamps switch: needs --format pcapng", run.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_directory, "x.pcap")));
    }

    [Fact]
    public void Bad_config_value_exits_2_naming_the_key()
    {
        var config = Path.Combine(_directory, "decap.conf");
        File.WriteAllText(config, "fabric.decap { max-depth = 0 }\n");
        var output = Path.Combine(_directory, "inner.pcap");

        var run = Fabric("decap", Corpus("tcpdump/vxlan.pcap"), output, "--config", config);

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith($"fabric: --config {config}: fabric.decap.max-depth: ", OneLine(run.Stderr), StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Missing_input_exits_2_with_one_line()
    {
        var missing = Path.Combine(_directory, "nope.pcap");

        var run = Fabric("decap", missing, Path.Combine(_directory, "inner.pcap"));

        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"fabric: {missing}: no such file", OneLine(run.Stderr));
        Assert.Empty(Directory.GetFiles(_directory));
    }

    [Fact]
    public void Input_that_is_not_a_capture_exits_2_with_one_line()
    {
        var index = Corpus("INDEX.tsv");

        var run = Fabric("decap", index, Path.Combine(_directory, "inner.pcap"));

        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"fabric: {index}: not a capture file (magic 0x68746170: neither pcap nor pcapng)", OneLine(run.Stderr));
        Assert.Empty(Directory.GetFiles(_directory));
    }

    [Fact]
    public void Unsupported_link_type_exits_2_with_one_line()
    {
        var sll = Path.Combine(_directory, "cooked.pcap");
        using (var writer = PcapWriter.Create(sll, LinkTypes.LinuxSll))
        {
            writer.Write(new byte[60], 1, 60);
        }

        var run = Fabric("decap", sll, Path.Combine(_directory, "inner.pcap"));

        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"fabric: {sll}: unsupported link type 113 (LINUX_SLL); fabric decap reads ETHERNET and RAW captures", OneLine(run.Stderr));
        Assert.Equal([sll], Directory.GetFiles(_directory));
    }

    [Fact]
    public void Unwritable_output_exits_2_and_leaves_nothing()
    {
        var output = Path.Combine(_directory, "no-such-dir", "inner.pcap");

        var run = Fabric("decap", Corpus("tcpdump/vxlan.pcap"), output);

        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"fabric: {output}: cannot write: directory {Path.GetDirectoryName(output)} does not exist", OneLine(run.Stderr));
        Assert.Empty(Directory.GetFileSystemEntries(_directory));
    }

    [Fact]
    public void Input_broken_mid_way_keeps_the_good_frames_in_a_valid_pcap_and_exits_1()
    {
        // The first 60 000 bytes of a real AWS mirror capture: whole records, then one torn at the end.
        var whole = File.ReadAllBytes(Corpus("suricata-verify/vxlan-decoder-03_vxlan.pcap"));
        var cut = Path.Combine(_directory, "cut.pcap");
        File.WriteAllBytes(cut, whole[..(whole.Length / 2)]);
        var output = Path.Combine(_directory, "inner.pcap");

        var run = Fabric("decap", cut, output, "--json");

        Assert.Equal(1, run.ExitCode);
        using var json = JsonDocument.Parse(run.Stdout);
        var written = json.RootElement.GetProperty("written").GetInt64();
        var records = json.RootElement.GetProperty("records").GetInt64();
        Assert.InRange(written, 1, 99);
        Assert.Equal(records, written);
        Assert.Equal(written, ExternalTool.TcpdumpCount(output));
        Assert.Matches(
            $@"^fabric: {Regex.Escape(cut)}: the last record is cut short at byte \d+ after {records} good records: .*; kept the {written} frames decapsulated before it$",
            OneLine(run.Stderr));
        Assert.Empty(Directory.GetFiles(_directory, "*.partial"));
    }

    // The fast paths at scale: 30 000 ERSPAN II IMIX packets (12.6 MB, bench/gen-erspan-imix.py) are a dozen fills of
    // the reader's 1 MiB buffer, records split at each fill's end, and ten fills of the writer's 1 MiB buffer.
    // The output must be, byte for byte, the generator's expected inner frames; torn, the input ends 10 bytes into its
    // last record (a 1500-byte inner frame), and the output is every frame before it.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Decap_of_a_capture_larger_than_its_buffers_writes_exactly_the_expected_inner_frames(bool tornAtTheEnd)
    {
        var input = Path.Combine(_directory, "erspan.pcap");
        var expectedPath = Path.Combine(_directory, "expected.pcap");
        var generator = ExternalTool.Run("python3", Path.Combine(TestPaths.RepoRoot, "bench", "gen-erspan-imix.py"), input, "30000", "--expected", expectedPath);
        Assert.True(generator.ExitCode == 0, generator.Stderr);
        var expected = File.ReadAllBytes(expectedPath);
        const int lastInner = PcapWriter.RecordHeaderLength + 1500;
        const int lastOuter = lastInner + 50; // outer Ethernet 14, IPv4 20, GRE with sequence 8, ERSPAN II 8
        if (tornAtTheEnd)
        {
            var bytes = File.ReadAllBytes(input);
            File.WriteAllBytes(input, bytes[..^(lastOuter - 10)]);
            expected = expected[..^lastInner];
        }

        var output = Path.Combine(_directory, "inner.pcap");
        var run = Fabric("decap", input, output, "--json");

        Assert.Equal(tornAtTheEnd ? 1 : 0, run.ExitCode);
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.Equal(tornAtTheEnd ? 29_999 : 30_000, json.RootElement.GetProperty("written").GetInt64());
        if (tornAtTheEnd)
        {
            Assert.Matches($@"^fabric: {Regex.Escape(input)}: the last record is cut short at byte \d+ after 29999 good records: ", OneLine(run.Stderr));
        }
        else
        {
            Assert.Equal("", run.Stderr);
        }

        var written = File.ReadAllBytes(output);
        Assert.Equal(expected.Length, written.Length);
        Assert.True(expected.AsSpan().SequenceEqual(written), "fabric's output differs from the expected inner frames");
        Assert.Empty(Directory.GetFiles(_directory, "*.partial"));
    }

    [Fact]
    public void Output_that_is_a_directory_or_the_input_itself_exits_2()
    {
        var input = Path.Combine(_directory, "in.pcap");
        File.Copy(Corpus("tcpdump/vxlan.pcap"), input);
        var before = File.ReadAllBytes(input);

        var intoDirectory = Fabric("decap", input, _directory);
        var overInput = Fabric("decap", input, input);

        Assert.Equal(2, intoDirectory.ExitCode);
        Assert.Equal($"fabric: {_directory}: is a directory; give the output file's name", OneLine(intoDirectory.Stderr));
        Assert.Equal(2, overInput.ExitCode);
        Assert.Equal($"fabric: {input}: the output would overwrite the input; choose another file", OneLine(overInput.Stderr));
        Assert.Equal(before, File.ReadAllBytes(input));
        Assert.Equal([input], Directory.GetFileSystemEntries(_directory));
    }

    [Fact]
    public void Failed_run_leaves_an_existing_output_untouched()
    {
        var output = Path.Combine(_directory, "inner.pcap");
        File.WriteAllText(output, "previous contents");

        var run = Fabric("decap", Corpus("INDEX.tsv"), output);

        Assert.Equal(2, run.ExitCode);
        Assert.Equal("previous contents", File.ReadAllText(output));
    }

    [Fact]
    public async Task Sigterm_mid_run_removes_the_temporary_file_and_leaves_no_output()
    {
        // The input is a FIFO fed by the test, so the run is mid-way for as long as the test wants.
        var fifo = Path.Combine(_directory, "feed.pcap");
        Assert.Equal(0, ExternalTool.Run("mkfifo", fifo).ExitCode);
        var output = Path.Combine(_directory, "inner.pcap");
        byte[] vxlan;
        using (var source = CaptureFileReader.Open(Corpus("tcpdump/vxlan.pcap")))
        {
            Assert.Equal(CaptureReadStatus.Packet, source.ReadNext(out var first));
            vxlan = first.Data.ToArray();
        }

        var start = new ProcessStartInfo(TestPaths.PublishedConsole)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "decap", fifo, output })
        {
            start.ArgumentList.Add(argument);
        }

        using var fabric = Process.Start(start)!;
        var stderr = fabric.StandardError.ReadToEndAsync();
        var stdout = fabric.StandardOutput.ReadToEndAsync();
        try
        {
            using (var feed = new FileStream(fifo, FileMode.Open, FileAccess.Write))
            using (var writer = new PcapWriter(feed, LinkTypes.Ethernet, leaveOpen: true))
            {
                WriteRecords(writer, vxlan, 70_000);
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (Directory.GetFiles(_directory, "*.partial").Length == 0 && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(20);
                }

                Assert.Single(Directory.GetFiles(_directory, "*.partial"));
                Assert.Equal(0, ExternalTool.Run("kill", "-TERM", fabric.Id.ToString(global::System.Globalization.CultureInfo.InvariantCulture)).ExitCode);

                // Keep feeding: the run notices the signal between records and stops; then the FIFO breaks.
                for (var chunk = 0; chunk < 200 && !fabric.HasExited; chunk++)
                {
                    try
                    {
                        WriteRecords(writer, vxlan, 65_536);
                    }
                    catch (IOException)
                    {
                        break;
                    }
                }
            }
        }
        catch (IOException)
        {
            // The FIFO broke while closing: fabric has stopped reading.
        }

        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await fabric.WaitForExitAsync(timeout.Token);
        }

        Assert.Equal(1, fabric.ExitCode);
        Assert.Equal($"fabric: interrupted; {output} left as it was", OneLine(await stderr));
        Assert.Equal("", await stdout);
        Assert.Equal([fifo], Directory.GetFileSystemEntries(_directory));
    }

    private static void WriteRecords(PcapWriter writer, byte[] frame, int count)
    {
        for (var i = 0; i < count; i++)
        {
            writer.Write(frame, i * 1_000L, frame.Length);
        }

        writer.Flush();
    }

    private static string OneLine(string stderr)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        return lines[0];
    }

    private static ToolResult Fabric(params string[] arguments) =>
        ExternalTool.Run(TestPaths.PublishedConsole, arguments); // the NativeAOT console, as shipped

    private static string Corpus(string relative) => TestPaths.Corpus(relative);
}
