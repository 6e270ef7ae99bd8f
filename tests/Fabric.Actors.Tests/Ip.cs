using System.Diagnostics;

namespace Fabric.Actors.Tests;

/// <summary>Runs `ip` for test set-up and clean-up.</summary>
internal static class Ip
{
    public static int Run(string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo("ip", arguments)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        process.WaitForExit();
        return process.ExitCode;
    }
}
