namespace Fabric.Console.Tests;

/// <summary>Runs one console command line in-process and captures what it printed.</summary>
internal static class ConsoleRun
{
    public static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await ConsoleApp.RunAsync(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
