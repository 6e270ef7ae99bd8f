using System.Security.Cryptography;
using System.Text;

namespace Fabric.Node.Management;

/// <summary>The bearer token mutating management routes require (none when empty).</summary>
public sealed class ManagementToken
{
    private readonly byte[]? _expected;

    public ManagementToken(string? token)
    {
        _expected = string.IsNullOrEmpty(token) ? null : Encoding.UTF8.GetBytes(token);
    }

    /// <summary>True when a token is configured.</summary>
    public bool IsRequired => _expected is not null;

    /// <summary>
    /// True when no token is configured, or <paramref name="authorizationHeader"/> is
    /// <c>Bearer &lt;token&gt;</c> (compared in constant time).
    /// </summary>
    public bool IsAuthorized(string? authorizationHeader)
    {
        if (_expected is null)
        {
            return true;
        }

        const string scheme = "Bearer ";
        if (authorizationHeader is null || !authorizationHeader.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var given = Encoding.UTF8.GetBytes(authorizationHeader[scheme.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(given, _expected);
    }
}
