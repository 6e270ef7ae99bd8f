namespace Fabric.System.Tests.Deploy;

/// <summary>
/// Builds the .deb (deploy/deb/build-deb.sh: the node's self-contained publish, the slow part, and the console's NativeAOT one, skipped when up to date) once per
/// test run, for every fixture that needs it (<see cref="DebCollection"/>, <see cref="SystemdContainer"/>);
/// the package's directory is deleted when the test process exits.
/// </summary>
public sealed class DebPackageFixture : IDisposable
{
    private static readonly Lazy<(string Directory, Run.Result Build)> Shared = new(BuildOnce, LazyThreadSafetyMode.ExecutionAndPublication);

    public DebPackageFixture()
    {
        (Directory, BuildResult) = Shared.Value;
        Package = BuildResult.ExitCode == 0 ? BuildResult.Stdout.Trim().Split('\n')[^1] : "";
    }

    /// <summary>The version the test package is built with (never an installed release's).</summary>
    public const string Version = "0.0.1~test";

    public string Directory { get; }

    public Run.Result BuildResult { get; }

    /// <summary>Path of the built .deb (empty if the build failed: see <see cref="BuildResult"/>).</summary>
    public string Package { get; }

    /// <summary>Nothing per fixture: the one build is shared and removed at process exit.</summary>
    public void Dispose()
    {
    }

    private static (string, Run.Result) BuildOnce()
    {
        var directory = global::System.IO.Directory.CreateTempSubdirectory("fp-deb-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (global::System.IO.Directory.Exists(directory))
            {
                global::System.IO.Directory.Delete(directory, recursive: true);
            }
        };
        var build = Run.Process(
            "bash",
            TimeSpan.FromMinutes(15),
            [Path.Combine(Run.RepoRoot, "deploy/deb/build-deb.sh"), "--version", Version, "--output", directory]);
        return (directory, build);
    }
}
