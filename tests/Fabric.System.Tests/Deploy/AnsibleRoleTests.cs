namespace Fabric.System.Tests.Deploy;

/// <summary>
/// Must show 5: deploy/ansible's playbook passes <c>ansible-playbook --syntax-check</c> with the
/// sample inventory, and a <c>--check</c> run of the fabric role against localhost (the .deb built
/// by the shared fixture, pipelines, a site and a mirror, capture cores) passes and changes nothing.
/// </summary>
[Collection(DebCollection.Name)]
public sealed class AnsibleRoleTests(DebPackageFixture deb)
{
    private static readonly string AnsibleDirectory = Path.Combine(Run.RepoRoot, "deploy", "ansible");

    [Fact]
    public void Playbook_passes_syntax_check_and_the_sample_inventory_has_the_proxmox_site_and_the_aws_sensor()
    {
        var syntax = Ansible("--syntax-check", "-i", "inventory/sensors.yml", "site.yml");
        Assert.True(syntax.ExitCode == 0, syntax.ToString());

        var hosts = Ansible("--list-hosts", "-i", "inventory/sensors.yml", "site.yml");
        Assert.True(hosts.ExitCode == 0, hosts.ToString());
        var listed = hosts.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        Assert.Superset(new HashSet<string> { "pve-a1", "pve-a2", "pve-a-sensor", "aws-sensor-1" }, listed);
    }

    [Fact]
    public void Check_run_against_localhost_passes_and_writes_nothing()
    {
        Assert.True(deb.BuildResult.ExitCode == 0, deb.BuildResult.ToString());
        var directory = Directory.CreateTempSubdirectory("fp-ansible-").FullName;
        try
        {
            var dropIn = Path.Combine(directory, "grub.d", "fabric-isolcpus.cfg");
            var inventory = Path.Combine(directory, "local.yml");
            File.WriteAllText(inventory, $$"""
                all:
                  children:
                    fabric:
                      hosts:
                        localhost:
                          ansible_connection: local
                          ansible_python_interpreter: /usr/bin/python3
                          fabric_deb_path: "{{deb.Package}}"
                          fabric_deb_remote: true
                          fabric_capture_cpus: [1]
                          fabric_grub_dropin: "{{dropIn}}"
                          fabric_roles: [capture, supervisor, site-lab]
                          fabric_pipelines:
                            - name: lab
                              source: { interface: lo }
                              capture-cpu: 1
                              sinks: [ { type: pcap, directory: /var/lib/fabric/pcap } ]
                          fabric_sites: [ { name: lab, backend: tc } ]
                          fabric_mirrors:
                            - { name: lab-mirror, site: lab, sources: [eth3], output: mon0 }
                """);

            var check = Ansible("--check", "--diff", "-i", inventory, "site.yml");

            Assert.True(check.ExitCode == 0, check.ToString());
            Assert.Matches(@"localhost\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", check.Stdout);
            // The role's real steps ran (in check mode), with the configuration rendered from the variables:
            Assert.Matches(@"TASK \[fabric : Install the fabric package from the \.deb\][^\n]*\n(?:(?!TASK)[^\n]*\n)*?(changed|ok): \[localhost\]", check.Stdout);
            Assert.Contains("+  pipelines = [{\"name\": \"lab\"", check.Stdout, StringComparison.Ordinal);
            Assert.Contains("isolcpus=1 nohz_full=1 rcu_nocbs=1", check.Stdout, StringComparison.Ordinal);
            Assert.False(File.Exists(dropIn), "--check wrote the GRUB drop-in");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static Run.Result Ansible(params string[] arguments) =>
        Run.Process(
            "ansible-playbook",
            TimeSpan.FromMinutes(5),
            arguments,
            AnsibleDirectory,
            new Dictionary<string, string>
            {
                ["ANSIBLE_CONFIG"] = Path.Combine(AnsibleDirectory, "ansible.cfg"),
                ["ANSIBLE_NOCOLOR"] = "1",
                ["ANSIBLE_FORCE_COLOR"] = "0",
            });
}
