namespace Fabric.Console;

/// <summary>Exit codes of every console command (documented in docs/console.md).</summary>
internal static class ExitCodes
{
    /// <summary>The command did what it was asked.</summary>
    public const int Ok = 0;

    /// <summary>The command could not be done: node unreachable, node error, input damaged.</summary>
    public const int Failed = 1;

    /// <summary>Bad command line or bad input file/config: nothing was done.</summary>
    public const int Usage = 2;

    /// <summary>The node refused the request (401/403: missing or wrong token).</summary>
    public const int Refused = 3;

    /// <summary>What was named does not exist (404).</summary>
    public const int NotFound = 4;
}
