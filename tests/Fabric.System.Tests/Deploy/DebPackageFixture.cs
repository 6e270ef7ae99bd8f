namespace Fabric.System.Tests.Deploy;

/// <summary>
/// Builds the .deb once (deploy/deb/build-deb.sh: two self-contained publishes, the slow part) for
/// every test of <see cref="DebPackageTests"/>; deletes it afterwards.
/// </summary>
public sealed class DebPackageFixture : IDisposable
{
    public DebPackageFixture()
    {
        Directory = global::System.IO.Directory.CreateTempSubdirectory("fp-deb-").FullName;
        var build = Run.Process(
            "bash",
            TimeSpan.FromMinutes(15),
            [Path.Combine(Run.RepoRoot, "deploy/deb/build-deb.sh"), "--version", Version, "--output", Directory]);
        BuildResult = build;
        Package = build.ExitCode == 0 ? build.Stdout.Trim().Split('\n')[^1] : "";
    }

    /// <summary>The version the test package is built with (never an installed release's).</summary>
    public const string Version = "0.0.1~test";

    public string Directory { get; }

    public Run.Result BuildResult { get; }

    /// <summary>Path of the built .deb (empty if the build failed: see <see cref="BuildResult"/>).</summary>
    public string Package { get; }

    public void Dispose() => global::System.IO.Directory.Delete(Directory, recursive: true);
}
