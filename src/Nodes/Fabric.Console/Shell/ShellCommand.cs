using System.CommandLine;
using Fabric.Console.Commands;

namespace Fabric.Console.Shell;

/// <summary>Starts <see cref="InteractiveShell"/> for <c>fabric [global options]</c> with no command.</summary>
internal static class ShellCommand
{
    public static async Task<int> RunAsync(RootCommand root, GlobalOptions globals, ParseResult parse, string[] args, TextWriter stdout)
    {
        ArgumentNullException.ThrowIfNull(args);
        // The global options given to the shell go with every command it runs.
        return await CommandRunner.RunAsync(globals, parse, CancellationToken.None, async (ctx, _, ct) =>
        {
            var shell = new InteractiveShell(root, args, ctx.Client, stdout);
            return await shell.RunAsync(ct).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }
}
