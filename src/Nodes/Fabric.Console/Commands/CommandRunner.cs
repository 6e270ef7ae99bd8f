using System.CommandLine;

namespace Fabric.Console.Commands;

/// <summary>
/// Gives a command its context and turns every failure into one line on stderr and an exit code.
/// Commands never print errors themselves and never call Environment.Exit.
/// </summary>
internal static class CommandRunner
{
    public static void SetHandler(this Command command, GlobalOptions globals, Func<CommandContext, ParseResult, CancellationToken, Task<int>> action) =>
        command.SetAction((parse, ct) => RunAsync(globals, parse, ct, action));

    public static async Task<int> RunAsync(
        GlobalOptions globals,
        ParseResult parse,
        CancellationToken ct,
        Func<CommandContext, ParseResult, CancellationToken, Task<int>> action)
    {
        using var context = new CommandContext(globals, parse);
        try
        {
            return await action(context, parse, ct).ConfigureAwait(false);
        }
        catch (ConsoleException e)
        {
            await context.Stderr.WriteLineAsync($"fabric: {e.Message}").ConfigureAwait(false);
            return e.ExitCode;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return ExitCodes.Failed;
        }
    }
}
