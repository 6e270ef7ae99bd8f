using Fabric.Actors.Hosting;
using Xunit;

namespace Fabric.Actors.Tests.Hosting;

public sealed class InlineSecretsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fd-inline-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_token_inline_in_a_file_others_can_read_is_named_with_the_file_its_mode_and_the_remedy()
    {
        var file = Write("node.conf", "fabric.management.token = s3cret-token\n", "644");

        var warning = Assert.Single(InlineSecrets.Warnings([file]));

        Assert.Equal($"fabric.management.token is written in {file}, which other users can read (mode 644): move it to fabric.management.token-file (chmod 600) or chmod o-r {file}", warning);
        Assert.DoesNotContain("s3cret-token", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void A_connection_string_with_a_password_is_named_and_one_without_is_not()
    {
        var withPassword = Write("a.conf", "fabric.persistence.postgresql.connection-string = \"Host=db;Username=fabric;Password=Hunter2Secret\"\n", "644");
        var withoutPassword = Write("b.conf", "fabric.persistence.postgresql.connection-string = \"Host=db;Username=fabric\"\n", "644");

        var warning = Assert.Single(InlineSecrets.Warnings([withPassword, withoutPassword]));

        Assert.StartsWith($"fabric.persistence.postgresql.connection-string is written in {withPassword}", warning, StringComparison.Ordinal);
        Assert.DoesNotContain("Hunter2Secret", warning, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fabric.management.token = s3cret\n", "600")]
    [InlineData("fabric.management.token = s3cret\n", "640")]
    [InlineData("fabric.management.token = \"\"\nfabric.management.token-file = /etc/fabric/token\n", "644")]
    [InlineData("fabric.data-dir = /var/lib/fabric\n", "644")]
    public void Private_files_and_files_without_inline_secrets_give_no_warning(string text, string mode)
    {
        Assert.Empty(InlineSecrets.Warnings([Write("c.conf", text, mode)]));
    }

    private string Write(string name, string text, string octalMode)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32(octalMode, 8));
        return path;
    }
}
