namespace Fabric.Configuration;

/// <summary>Secret files: must exist and must not be readable or writable by others.</summary>
public static class SecretFiles
{
    /// <summary>Null when <paramref name="path"/> is a private file, otherwise the problem.</summary>
    public static string? Problem(string path)
    {
        if (!File.Exists(path))
        {
            return $"secret file \"{path}\" does not exist";
        }

        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        var mode = File.GetUnixFileMode(path);
        return (mode & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0
            ? $"secret file \"{path}\" is readable or writable by others (mode {Convert.ToString((int)mode, 8)}); chmod o-rw it"
            : null;
    }

    public static void CheckPrivate(string path)
    {
        if (Problem(path) is { } problem)
        {
            throw new UnauthorizedAccessException(problem);
        }
    }
}
