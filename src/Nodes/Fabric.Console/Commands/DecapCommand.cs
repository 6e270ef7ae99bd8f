using System.CommandLine;
using System.Globalization;
using Akka.Configuration;
using Fabric.Actors.Configuration;
using Fabric.Actors.Decap;
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
        var command = new Command("decap", "Decapsulate a stored capture (ERSPAN, GRE, VXLAN, Geneve) into a pcap of inner frames")
        {
            input,
            output,
            config,
        };
        command.SetHandler(globals, (ctx, parse, _) =>
        {
            var options = LoadOptions(parse.GetValue(config));
            var report = DecapFile.Run(parse.GetValue(input)!, parse.GetValue(output)!, options);
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

    /// <summary>Reads <c>fabric.decap</c> from a HOCON file, or the defaults without one.</summary>
    internal static DecapOptions LoadOptions(string? file)
    {
        if (file is null)
        {
            return new DecapOptions();
        }

        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConsoleException($"--config {file}: cannot read: {e.Message.ReplaceLineEndings(" ")}", ExitCodes.Usage, e);
        }

        Config hocon;
        try
        {
            hocon = ConfigurationFactory.ParseString(text);
        }
        catch (Exception e) when (e is ConfigurationException or FormatException or InvalidOperationException)
        {
            throw new ConsoleException($"--config {file}: not valid HOCON: {e.Message.ReplaceLineEndings(" ")}", ExitCodes.Usage, e);
        }

        try
        {
            return DecapSettings.FromConfig(hocon);
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
            ctx.WriteJson(new
            {
                input = report.Input,
                output = report.Output,
                format = report.Format,
                records = report.Records,
                written = report.Written,
                outcomes = report.Outcomes.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal),
                inputProblem = report.InputProblem,
            });
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
