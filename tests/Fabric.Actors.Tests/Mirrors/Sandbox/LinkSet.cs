namespace Fabric.Actors.Tests.Mirrors.Sandbox;

/// <summary>Links a test creates (fm prefix + random suffix); deletes exactly those on dispose.</summary>
internal sealed class LinkSet : IDisposable
{
    private readonly HashSet<string> _links = new(StringComparer.Ordinal);

    public string Suffix { get; } = Guid.NewGuid().ToString("N")[..5];

    /// <summary>"fm" + suffix + tag (at most 15 characters).</summary>
    public string Name(string tag) => "fm" + Suffix + tag;

    /// <summary>A veth pair, both ends up with IPv6 off (no stray router solicitations).</summary>
    public void AddVeth(string name, string peer)
    {
        OvsSandbox.Run("ip", "link", "add", name, "type", "veth", "peer", "name", peer);
        _links.Add(name);
        _links.Add(peer);
        foreach (var n in new[] { name, peer })
        {
            File.WriteAllText($"/proc/sys/net/ipv6/conf/{n}/disable_ipv6", "1");
            OvsSandbox.Run("ip", "link", "set", n, "up");
        }
    }

    /// <summary>Deletes a veth pair (deleting one end removes both).</summary>
    public void DeleteVeth(string name, string peer)
    {
        OvsSandbox.Run("ip", "link", "del", name);
        _links.Remove(name);
        _links.Remove(peer);
    }

    public void Dispose()
    {
        foreach (var link in _links)
        {
            if (OvsSandbox.LinkExists(link))
            {
                try
                {
                    OvsSandbox.Run("ip", "link", "del", link);
                }
                catch (InvalidOperationException)
                {
                    // went with its peer
                }
            }
        }
    }
}
