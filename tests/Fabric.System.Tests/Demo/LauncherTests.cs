using System.Diagnostics;
using Xunit;

namespace Fabric.System.Tests.Demo;

/// <summary>
/// <c>bin/fabric</c> and <c>bin/fabric-node</c> at the repository root: the commands by name, also through a symlink
/// from elsewhere (<c>ln -s REPO/bin/fabric /usr/local/bin/fabric</c>). <c>bin/fabric-node</c> runs the Release build
/// (built here because this test project references it and runs in Release) and without one names the command that
/// builds it, exit 2. <c>bin/fabric</c> runs the published NativeAOT console (artifacts/console/fabric, as the .deb
/// ships it), publishing it first with scripts/publish-console.sh when it is missing.
/// </summary>
public sealed class LauncherTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fabric-launcher-").FullName;

    [Theory]
    [InlineData("fabric", "fabric: the Fabric cluster console")]
    [InlineData("fabric-node", "usage: fabric-node [--config FILE]")]
    public void A_symlink_elsewhere_runs_the_repositorys_build(string command, string expected)
    {
        if (command == "fabric")
        {
            _ = TestPaths.PublishedConsole; // published (or found up to date) before the launcher runs it
        }

        var link = Path.Combine(_dir, command);
        File.CreateSymbolicLink(link, Path.Combine(TestPaths.RepoRoot, "bin", command));

        var (exit, stdout, stderr) = Run(link, "--help");

        Assert.True(exit == 0, $"{command} --help exited {exit}: {stderr}");
        Assert.Contains(expected, stdout, StringComparison.Ordinal);
        Assert.Equal("", stderr);
    }

    [Fact]
    public void Fabric_runs_the_published_native_console()
    {
        var published = TestPaths.PublishedConsole;
        Assert.Equal(Path.Combine(TestPaths.RepoRoot, "artifacts", "console", "fabric"), published);
        // A native executable (ELF), not a .NET assembly run by the dotnet host.
        Assert.Equal([0x7f, (byte)'E', (byte)'L', (byte)'F'], File.ReadAllBytes(published)[..4]);
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(published)!, "fabric.dll")));

        var viaLauncher = Run(Path.Combine(TestPaths.RepoRoot, "bin", "fabric"), "--version");
        var direct = Run(published, "--version");

        Assert.Equal(0, viaLauncher.Exit);
        Assert.Equal(direct, viaLauncher);
    }

    [Fact]
    public void Without_a_build_fabric_node_names_the_command_that_builds_it_and_exits_2()
    {
        // A clone that was never built: the launcher alone under bin/.
        var fakeRepo = FakeClone("fabric-node");

        var (exit, stdout, stderr) = Run(Path.Combine(fakeRepo, "bin", "fabric-node"), "--help");

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.StartsWith("fabric-node: not built: ", line, StringComparison.Ordinal);
        Assert.Contains($"build it with: dotnet build {fakeRepo}/src/Nodes/Fabric.Node/Fabric.Node.csproj -c Release", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_published_console_fabric_publishes_it_first_says_so_then_runs_it()
    {
        // A clone whose publish script (a stand-in for scripts/publish-console.sh) leaves an executable that echoes.
        var fakeRepo = FakeClone("fabric");
        WriteScript(Path.Combine(fakeRepo, "scripts", "publish-console.sh"), """
            out="$(dirname "$0")/../artifacts/console"
            mkdir -p "$out"
            printf '#!/bin/sh\necho "published $*"\n' > "$out/fabric"
            chmod +x "$out/fabric"
            echo "$out/fabric"
            """);
        var launcher = Path.Combine(fakeRepo, "bin", "fabric");

        var first = Run(launcher, "decap", "--help");
        var second = Run(launcher, "--version");

        Assert.Equal(0, first.Exit);
        Assert.Equal("published decap --help\n", first.Stdout);
        var line = Assert.Single(first.Stderr.TrimEnd().Split('\n'));
        Assert.Equal($"fabric: {fakeRepo}/artifacts/console/fabric is not published yet; publishing it now (bash {fakeRepo}/scripts/publish-console.sh)", line);
        Assert.Equal((0, "published --version\n", ""), second); // published once: the second run only runs it
    }

    [Fact]
    public void When_publishing_the_console_fails_fabric_says_so_and_exits_2()
    {
        var fakeRepo = FakeClone("fabric");
        WriteScript(Path.Combine(fakeRepo, "scripts", "publish-console.sh"), "echo 'publish-console.sh: clang not found' >&2; exit 2");

        var (exit, stdout, stderr) = Run(Path.Combine(fakeRepo, "bin", "fabric"), "--help");

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        var lines = stderr.TrimEnd().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Equal("publish-console.sh: clang not found", lines[1]);
        Assert.Equal($"fabric: publishing the console failed; see the output above (or run: bash {fakeRepo}/scripts/publish-console.sh)", lines[2]);
        Assert.False(File.Exists(Path.Combine(fakeRepo, "artifacts", "console", "fabric")));
    }

    /// <summary>A clone with nothing built or published: the launcher alone under bin/.</summary>
    private string FakeClone(string command)
    {
        var fakeRepo = Path.Combine(_dir, "clone");
        Directory.CreateDirectory(Path.Combine(fakeRepo, "bin"));
        var launcher = Path.Combine(fakeRepo, "bin", command);
        File.Copy(Path.Combine(TestPaths.RepoRoot, "bin", command), launcher);
        File.SetUnixFileMode(launcher, File.GetUnixFileMode(launcher) | UnixFileMode.UserExecute);
        return fakeRepo;
    }

    private static void WriteScript(string path, string body)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "#!/usr/bin/env bash\n" + body + "\n");
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
