using System.Diagnostics;
using Xunit;

namespace Fabric.System.Tests.Demo;

/// <summary>
/// <c>bin/fabric</c> and <c>bin/fabric-node</c> at the repository root: the commands by name. They run the Release
/// build of the repository they sit in (built here because this test project references both projects and runs
/// in Release), also through a symlink from elsewhere (<c>ln -s REPO/bin/fabric /usr/local/bin/fabric</c>), and
/// without a build they say in one line which command builds it, exit 2.
/// </summary>
public sealed class LauncherTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fabric-launcher-").FullName;

    [Theory]
    [InlineData("fabric", "fabric: the Fabric cluster console")]
    [InlineData("fabric-node", "usage: fabric-node [--config FILE]")]
    public void A_symlink_elsewhere_runs_the_repositorys_release_build(string command, string expected)
    {
        var link = Path.Combine(_dir, command);
        File.CreateSymbolicLink(link, Path.Combine(TestPaths.RepoRoot, "bin", command));

        var (exit, stdout, stderr) = Run(link, "--help");

        Assert.True(exit == 0, $"{command} --help exited {exit}: {stderr}");
        Assert.Contains(expected, stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fabric", "src/Nodes/Fabric.Console/Fabric.Console.csproj")]
    [InlineData("fabric-node", "src/Nodes/Fabric.Node/Fabric.Node.csproj")]
    public void Without_a_build_it_names_the_command_that_builds_it_and_exits_2(string command, string project)
    {
        // A clone that was never built: the launcher alone under bin/.
        var fakeRepo = Path.Combine(_dir, "clone");
        Directory.CreateDirectory(Path.Combine(fakeRepo, "bin"));
        var launcher = Path.Combine(fakeRepo, "bin", command);
        File.Copy(Path.Combine(TestPaths.RepoRoot, "bin", command), launcher);
        File.SetUnixFileMode(launcher, File.GetUnixFileMode(launcher) | UnixFileMode.UserExecute);

        var (exit, stdout, stderr) = Run(launcher, "--help");

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.StartsWith($"{command}: not built: ", line, StringComparison.Ordinal);
        Assert.Contains($"build it with: dotnet build {fakeRepo}/{project} -c Release", line, StringComparison.Ordinal);
    }

    private static (int Exit, string Stdout, string Stderr) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill();
            process.WaitForExit();
            Assert.Fail($"{file} did not finish within 30 s");
        }

        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
