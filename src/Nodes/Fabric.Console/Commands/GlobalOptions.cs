using System.CommandLine;

namespace Fabric.Console.Commands;

/// <summary>Options every command takes (they are recursive: valid after any sub-command).</summary>
internal sealed class GlobalOptions
{
    public const string DefaultNode = "http://127.0.0.1:8558";

    public Option<string?> Node { get; } = new("--node")
    {
        Description = $"Management URL of any node (env FABRIC_NODE; default {DefaultNode})",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print JSON for scripts instead of tables",
        Recursive = true,
    };

    public Option<FileInfo?> TokenFile { get; } = new("--token-file")
    {
        Description = "File holding the management bearer token (env FABRIC_TOKEN holds the token itself)",
        Recursive = true,
    };

    public Option<FileInfo?> CaFile { get; } = new("--ca-file")
    {
        Description = "PEM file of the CA that signed an https node's certificate (env FABRIC_CA_FILE); without it the system trust store decides",
        Recursive = true,
    };

    public Option<double> Timeout { get; } = new("--timeout")
    {
        Description = "Seconds to wait for the node's answer",
        DefaultValueFactory = _ => 10,
        Recursive = true,
    };

    public void AddTo(RootCommand root)
    {
        root.Options.Add(Node);
        root.Options.Add(Json);
        root.Options.Add(TokenFile);
        root.Options.Add(CaFile);
        root.Options.Add(Timeout);
    }
}
