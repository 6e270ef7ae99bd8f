using System.Globalization;
using System.Text.RegularExpressions;

namespace Fabric.System.Tests.Deploy;

/// <summary>
/// Issue 12 point 5: deploy/ansible's site.yml applied for real (not --check) to the booted Debian 12
/// container of <see cref="SystemdContainer"/>. The connection is Debian's
/// <c>community.docker.nsenter</c> plugin with the container's systemd as its pid: every module runs
/// in all of the container's namespaces with the container's python3, so apt, template and
/// systemd act on the container's dpkg, files and systemd (no SSH server or key to manage; the
/// chroot plugin would miss the running systemd). The role copies the .deb from this machine,
/// installs it, writes /etc/fabric/fabric.conf from the inventory, writes the isolcpus GRUB drop-in
/// and starts the service, which answers /ready on the inventory's port; a second run changes nothing.
/// </summary>
[Collection(SystemdCollection.Name)]
public sealed class AnsibleContainerTests(SystemdContainer box)
{
    private const int ManagementPort = 8600;

    private static readonly string AnsibleDirectory = Path.Combine(Run.RepoRoot, "deploy", "ansible");

    [Fact]
    public void Role_installs_configures_isolates_cores_starts_the_node_and_a_second_run_changes_nothing()
    {
        Assert.True(box.Deb.BuildResult.ExitCode == 0, box.Deb.BuildResult.ToString());
        var directory = Directory.CreateTempSubdirectory("fp-ansible-box-").FullName;
        try
        {
            // From a host without the package (another test of the collection may have left it installed).
            box.Exec("dpkg", "--purge", "fabric");
            Assert.NotEqual(0, box.Exec("dpkg-query", "-W", "fabric").ExitCode);
            var inventory = Path.Combine(directory, "box.yml");
            File.WriteAllText(inventory, $$"""
                all:
                  children:
                    fabric:
                      hosts:
                        {{box.Name}}:
                          ansible_connection: community.docker.nsenter
                          ansible_nsenter_pid: {{box.SystemdPid.ToString(CultureInfo.InvariantCulture)}}
                          # The plugin is root in the container already; site.yml's become would look for sudo.
                          ansible_become: false
                          ansible_python_interpreter: /usr/bin/python3
                          fabric_deb_path: "{{box.Deb.Package}}"
                          fabric_management_port: {{ManagementPort.ToString(CultureInfo.InvariantCulture)}}
                          fabric_remote_hostname: 127.0.0.1
                          fabric_remote_port: 4060
                          fabric_roles: [capture, supervisor]
                          fabric_capture_cpus: [1]
                          fabric_pipelines:
                            - name: lab
                              source: { interface: lo }
                              sinks: [ { type: pcap, directory: /var/lib/fabric/pcap } ]
                """);

            var first = Ansible(inventory);

            Assert.True(first.ExitCode == 0, first.ToString());
            var recap = Recap(first.Stdout);
            Assert.True(recap["failed"] == 0 && recap["unreachable"] == 0 && recap["changed"] >= 5, first.Stdout);
            foreach (var task in (string[])["Copy the fabric package to the host", "Install the fabric package from the .deb", "Write /etc/fabric/fabric.conf", "Keep the capture cores away from the scheduler (kernel command line)", "Enable and start fabric-node"])
            {
                Assert.Matches($@"TASK \[fabric : {Regex.Escape(task)}\][^\n]*\n(?:(?!TASK)[^\n]*\n)*?changed: \[{Regex.Escape(box.Name)}\]", first.Stdout);
            }

            // Installed, configured from the inventory, cores isolated for the next boot, running and ready.
            Assert.Equal($"install ok installed {DebPackageFixture.Version}", box.Ok("dpkg-query", "-W", "-f=${Status} ${Version}", "fabric").Trim());
            var conf = File.ReadAllText(box.PathOf("/etc/fabric/fabric.conf"));
            Assert.Contains($"port = {ManagementPort}\n", conf, StringComparison.Ordinal);
            Assert.Contains("cluster.roles = [\"capture\", \"supervisor\"]", conf, StringComparison.Ordinal);
            Assert.Contains("port = 4060\n", conf, StringComparison.Ordinal);
            Assert.Contains("pipelines = [{\"name\": \"lab\", \"source\": {\"interface\": \"lo\"}, \"sinks\": [{\"type\": \"pcap\", \"directory\": \"/var/lib/fabric/pcap\"}]}]", conf, StringComparison.Ordinal);
            Assert.Equal("root:fabric 640", box.Ok("stat", "-c", "%U:%G %a", "/etc/fabric/fabric.conf").Trim());
            var grub = File.ReadAllText(box.PathOf("/etc/default/grub.d/fabric-isolcpus.cfg"));
            Assert.Contains("GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX isolcpus=1 nohz_full=1 rcu_nocbs=1\"", grub, StringComparison.Ordinal);
            Assert.Equal("active", box.Exec("systemctl", "is-active", "fabric-node").Stdout.Trim());
            Assert.Equal("enabled", box.Exec("systemctl", "is-enabled", "fabric-node").Stdout.Trim());
            Assert.Equal("200", SystemdUnitTests.ReadyStatus(box, ManagementPort));
            var pid = SystemdUnitTests.Show(box, "MainPID")["MainPID"];
            Assert.Contains("management http://127.0.0.1:8600", box.Ok("journalctl", "-u", "fabric-node", $"_PID={pid}", "--no-pager", "-o", "cat"), StringComparison.Ordinal);

            var second = Ansible(inventory);

            Assert.True(second.ExitCode == 0, second.ToString());
            recap = Recap(second.Stdout);
            Assert.True(recap["changed"] == 0 && recap["failed"] == 0 && recap["unreachable"] == 0, "second run is not idempotent:\n" + second.Stdout);
            Assert.Equal(pid, SystemdUnitTests.Show(box, "MainPID")["MainPID"]); // not restarted
            Assert.Equal("200", SystemdUnitTests.ReadyStatus(box, ManagementPort));
        }
        finally
        {
            box.Exec("dpkg", "--purge", "fabric");
            box.Exec("rm", "-rf", "/etc/default/grub.d/fabric-isolcpus.cfg", "/var/cache/fabric-" + Path.GetFileName(box.Deb.Package), "/var/lib/fabric");
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The PLAY RECAP counters of the one host.</summary>
    private Dictionary<string, int> Recap(string stdout)
    {
        var line = Regex.Match(stdout, $@"^{Regex.Escape(box.Name)}\s+:(.*)$", RegexOptions.Multiline);
        Assert.True(line.Success, "no PLAY RECAP line for " + box.Name + ":\n" + stdout);
        return Regex.Matches(line.Groups[1].Value, @"(\w+)=(\d+)").ToDictionary(m => m.Groups[1].Value, m => int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    private static Run.Result Ansible(string inventory) =>
        Run.Process(
            "ansible-playbook",
            TimeSpan.FromMinutes(5),
            ["-i", inventory, "site.yml"],
            AnsibleDirectory,
            new Dictionary<string, string>
            {
                ["ANSIBLE_CONFIG"] = Path.Combine(AnsibleDirectory, "ansible.cfg"),
                ["ANSIBLE_NOCOLOR"] = "1",
                ["ANSIBLE_FORCE_COLOR"] = "0",
            });
}
