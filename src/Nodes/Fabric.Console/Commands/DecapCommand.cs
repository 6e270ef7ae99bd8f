using System.CommandLine;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Fabric.Configuration;
using Fabric.Protocols.Decap;
using Spectre.Console;

namespace Fabric.Console.Commands;

/// <summary>
/// <c>fabric decap IN OUT [--config FILE] [--json]</c>: decapsulates a stored capture (pcap or
/// pcapng) into a classic pcap of inner frames, offline, without a node. Exit codes (docs/decap-command.md):
/// 0 done; 1 the input was damaged or cut short (everything good before the damage is in OUT,
/// which is a valid pcap) or writing failed; 2 bad command line, missing or non-capture input,
/// unsupported link type, bad config, unwritable output (nothing written).
/// </summary>
internal sealed class DecapCommand : ICommandGroup
{
    public Command Build(GlobalOptions globals)
    {
        var input = new Argument<string>("IN") { Description = "Capture to read (pcap or pcapng; Ethernet or raw IP)" };
        var output = new Argument<string>("OUT") { Description = "Classic pcap of the inner frames to write (replaced at the end)" };
        var config = new Option<string?>("--config")
        {
            Description = "HOCON file whose fabric.decap section sets the policy (same keys as the node)",
        };
        var format = new Option<string>("--format")
        {
            Description = "pcap (classic, default) or pcapng (one interface per mirror session, ERSPAN III direction)",
            DefaultValueFactory = _ => "pcap",
        };
        format.AcceptOnlyFromAmong("pcap", "pcapng");
        var timestamps = new Option<string>("--timestamps")
        {
            Description = "capture (default) or switch: ERSPAN III's hardware time as the packet time (pcapng only)",
            DefaultValueFactory = _ => "capture",
        };
        timestamps.AcceptOnlyFromAmong("capture", "switch");
        var command = new Command("decap", "Decapsulate a stored capture (ERSPAN, GRE, VXLAN, Geneve) into a pcap or pcapng of inner frames")
        {
            input,
            output,
            config,
            format,
            timestamps,
        };
        command.SetHandler(globals, (ctx, parse, cancellation) =>
        {
            var pcapng = parse.GetValue(format) == "pcapng";
            var switchTimes = parse.GetValue(timestamps) == "switch";
            if (switchTimes && !pcapng)
            {
                throw new ConsoleException("--timestamps switch: needs --format pcapng", ExitCodes.Usage);
            }

            var options = LoadOptions(parse.GetValue(config));
            var outputPath = parse.GetValue(output)!;
            DecapFileReport report;
            // Ctrl-C or SIGTERM stops the run cleanly: the temporary file is removed, OUT stays as it was.
            using (var interrupted = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
            using (PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt(interrupted)))
            using (PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt(interrupted)))
            {
                try
                {
                    report = DecapFile.Run(parse.GetValue(input)!, outputPath, options, interrupted.Token, new DecapOutput(pcapng, switchTimes));
                }
                catch (OperationCanceledException e)
                {
                    throw new ConsoleException($"interrupted; {outputPath} left as it was", ExitCodes.Failed, e);
                }
            }

            Print(ctx, report);
            if (report.InputProblem is not null)
            {
                ctx.Stderr.WriteLine($"fabric: {report.InputProblem}; kept the {report.Written} frames decapsulated before it");
                return Task.FromResult(ExitCodes.Failed);
            }

            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    private static Action<PosixSignalContext> Interrupt(CancellationTokenSource source) => context =>
    {
        context.Cancel = true;
        source.Cancel();
    };

    /// <summary>Reads <c>fabric.decap</c> from a HOCON file, or the defaults without one.</summary>
    internal static DecapOptions LoadOptions(string? file) => file is null ? new DecapOptions() : LoadHocon(file);

    // Kept apart so that a run without --config never loads Akka's assemblies (start-up time).
    // The file is read like a node's own configuration (FabricConfig: over the reference, unknown
    // fabric.* keys refused), so a node's config file can be given as it is.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DecapOptions LoadHocon(string file)
    {
        if (!File.Exists(file))
        {
            throw new ConsoleException($"--config {file}: no such file", ExitCodes.Usage);
        }

        try
        {
            return DecapSettings.FromConfig(FabricConfig.Load([file]));
        }
        catch (FabricConfigException e)
        {
            throw new ConsoleException($"--config {file}: {e.Message}", ExitCodes.Usage, e);
        }
    }

    private static void Print(CommandContext ctx, DecapFileReport report)
    {
        if (ctx.Json)
        {
            // Written by hand rather than by the reflection serializer: it keeps start-up short.
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("input", report.Input);
                json.WriteString("output", report.Output);
                json.WriteString("format", report.Format);
                json.WriteNumber("records", report.Records);
                json.WriteNumber("written", report.Written);
                json.WriteString("outputFormat", report.OutputFormat);
                if (report.Sources is { Count: > 0 } sources)
                {
                    json.WriteStartObject("sources");
                    foreach (var (name, count) in sources)
                    {
                        json.WriteNumber(name, count);
                    }

                    json.WriteEndObject();
                }

                json.WriteStartObject("outcomes");
                foreach (var (name, count) in report.Outcomes)
                {
                    json.WriteNumber(name, count);
                }

                json.WriteEndObject();
                if (report.InputProblem is null)
                {
                    json.WriteNull("inputProblem");
                }
                else
                {
                    json.WriteString("inputProblem", report.InputProblem);
                }

                json.WriteEndObject();
            }

            ctx.Stdout.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
            return;
        }

        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumns("OUTCOME", "PACKETS");
        table.Columns[1].RightAligned();
        foreach (var (name, count) in report.Outcomes)
        {
            table.AddRow(Markup.Escape(name), count.ToString(CultureInfo.InvariantCulture));
        }

        ctx.Out.Write(table);
        ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{report.Input} ({report.Format}): read {report.Records} records, wrote {report.Written} inner frames to {report.Output}"));
    }
}
