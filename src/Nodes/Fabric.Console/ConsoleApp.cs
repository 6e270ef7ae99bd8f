using System.CommandLine;
using Fabric.Console.Commands;

namespace Fabric.Console;

/// <summary>Builds the command tree from the <see cref="ICommandGroup"/>s in <see cref="Groups"/> and runs one command line.</summary>
internal static class ConsoleApp
{
    public static RootCommand BuildRoot(GlobalOptions globals)
    {
        var root = new RootCommand("fabric: the Fabric cluster console. Talks to any node's management HTTP.");
        globals.AddTo(root);
        foreach (var group in Groups())
        {
            root.Subcommands.Add(group.Build(globals));
        }

        return root;
    }

    public static async Task<int> RunAsync(string[] args, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        stdout ??= System.Console.Out;
        stderr ??= System.Console.Error;
        var globals = new GlobalOptions();
        var root = BuildRoot(globals);
        var parse = root.Parse(args);
        if (OpensShell(args, parse, root))
        {
            return await Shell.ShellCommand.RunAsync(root, globals, parse, args, stdout).ConfigureAwait(false);
        }

        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                await stderr.WriteLineAsync($"fabric: {error.Message}").ConfigureAwait(false);
            }

            await stderr.WriteLineAsync("Try 'fabric --help'.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var invocation = new InvocationConfiguration { Output = stdout, Error = stderr };
        return await parse.InvokeAsync(invocation).ConfigureAwait(false);
    }

    /// <summary>No command, only global options (and no --help): the interactive shell.</summary>
    private static bool OpensShell(string[] args, ParseResult parse, RootCommand root) =>
        parse.CommandResult.Command == root && parse.UnmatchedTokens.Count == 0 &&
        !args.Any(a => a is "-h" or "--help" or "-?" or "/?" or "--version");

    /// <summary>
    /// Every command group, in the order help lists them (by class name, as the reflection discovery before it did).
    /// An explicit list, not reflection: the console is published with NativeAOT, where finding types by reflection
    /// is not supported. ConsoleAppTests checks that every ICommandGroup class is here.
    /// </summary>
    internal static IReadOnlyList<ICommandGroup> Groups() =>
    [
        new ClusterCommands(),
        new DecapCommand(),
        new MirrorsCommands(),
        new PipelinesCommands(),
        new SitesCommands(),
        new TopCommand(),
    ];
}
