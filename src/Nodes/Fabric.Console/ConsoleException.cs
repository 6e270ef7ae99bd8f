namespace Fabric.Console;

/// <summary>
/// A command failed in a way the user must be told about: one line, and an exit code.
/// Thrown by the shared client and by commands; caught once, in <see cref="Commands.CommandRunner"/>.
/// </summary>
internal sealed class ConsoleException : Exception
{
    public ConsoleException(string message, int exitCode)
        : base(message) => ExitCode = exitCode;

    public ConsoleException(string message, int exitCode, Exception inner)
        : base(message, inner) => ExitCode = exitCode;

    public int ExitCode { get; }
}
