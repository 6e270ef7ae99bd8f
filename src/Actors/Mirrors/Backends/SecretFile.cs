using Fabric.Configuration;

namespace Fabric.Actors.Mirrors.Backends;

/// <summary>
/// A secret read from its file when first needed and again whenever the file changes (a rotated
/// token or password is picked up without restarting the agent). Each read checks the file is
/// still private. Never logs or prints the value.
/// </summary>
public sealed class SecretFile
{
    private readonly string _path;
    private readonly Lock _gate = new();
    private DateTime _stamp;
    private string? _value;

    public SecretFile(string path) => _path = path;

    /// <summary>The secret (trimmed).</summary>
    /// <exception cref="UnauthorizedAccessException">The file is missing or readable by others.</exception>
    public string Read()
    {
        lock (_gate)
        {
            SecretFiles.CheckPrivate(_path);
            var stamp = File.GetLastWriteTimeUtc(_path);
            if (_value is null || stamp != _stamp)
            {
                _value = File.ReadAllText(_path).Trim();
                _stamp = stamp;
            }

            return _value;
        }
    }

    public override string ToString() => $"secret file {_path}";
}
