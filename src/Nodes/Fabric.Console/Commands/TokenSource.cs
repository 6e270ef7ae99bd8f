namespace Fabric.Console.Commands;

/// <summary>Where the management token comes from: --token-file, else FABRIC_TOKEN, else none.</summary>
internal static class TokenSource
{
    public static string? Read(FileInfo? file)
    {
        if (file is null)
        {
            var env = Environment.GetEnvironmentVariable("FABRIC_TOKEN");
            return string.IsNullOrWhiteSpace(env) ? null : env.Trim();
        }

        if (!file.Exists)
        {
            throw new ConsoleException($"--token-file: {file.FullName}: no such file", ExitCodes.Usage);
        }

        if ((File.GetUnixFileMode(file.FullName) & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
        {
            throw new ConsoleException(
                $"--token-file: {file.FullName} is readable by everyone; chmod o-rw it first", ExitCodes.Usage);
        }

        string text;
        try
        {
            text = File.ReadAllText(file.FullName).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConsoleException($"--token-file: {file.FullName}: {e.Message}", ExitCodes.Usage, e);
        }

        if (text.Length == 0)
        {
            throw new ConsoleException($"--token-file: {file.FullName} is empty", ExitCodes.Usage);
        }

        return text;
    }
}
