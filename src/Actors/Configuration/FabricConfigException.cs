namespace Fabric.Actors.Configuration;

/// <summary>
/// A configuration value Fabric cannot use. The message is one line that starts with the HOCON
/// path, e.g. <c>fabric.management.http.port: expected a port number 1-65535, got "abc"</c>.
/// fabric-node prints it and exits with code 2; nothing is started.
/// </summary>
public sealed class FabricConfigException : Exception
{
    public FabricConfigException(string path, string problem)
        : base($"{path}: {problem}")
    {
        Path = path;
        Problem = problem;
    }

    public FabricConfigException(string path, string problem, Exception inner)
        : base($"{path}: {problem}", inner)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The full HOCON path of the offending key, e.g. <c>fabric.pipelines[0].sinks[1].type</c>.</summary>
    public string Path { get; }

    /// <summary>What is wrong with it, without the path.</summary>
    public string Problem { get; }
}
