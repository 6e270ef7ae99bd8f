using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Akka.Event;

namespace Fabric.Actors.Hosting;

/// <summary>
/// One X.509 certificate revocation list (RFC 5280 section 5), parsed with its signature checked
/// against the CA that issued it: who issued it, when it was made and when the next one is due,
/// and the serial numbers it revokes.
/// </summary>
public sealed class RevocationList
{
    private readonly HashSet<string> _serials;

    private RevocationList(byte[] issuer, DateTimeOffset thisUpdate, DateTimeOffset? nextUpdate, HashSet<string> serials)
    {
        IssuerRaw = issuer;
        ThisUpdate = thisUpdate;
        NextUpdate = nextUpdate;
        _serials = serials;
    }

    /// <summary>The DER of the issuer's name, compared byte for byte with certificates' issuer names.</summary>
    public byte[] IssuerRaw { get; }

    public string Issuer => new X500DistinguishedName(IssuerRaw).Name;

    public DateTimeOffset ThisUpdate { get; }

    public DateTimeOffset? NextUpdate { get; }

    public int Count => _serials.Count;

    /// <summary>True when <paramref name="certificate"/> was issued by this list's issuer and its serial is listed.</summary>
    public bool Revokes(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return certificate.IssuerName.RawData.AsSpan().SequenceEqual(IssuerRaw) && _serials.Contains(Serial(certificate.SerialNumberBytes.Span));
    }

    /// <summary>
    /// Parses one DER CRL and checks its signature with the CA among <paramref name="authorities"/> whose subject
    /// is the CRL's issuer. Throws <see cref="CryptographicException"/> with a one-line reason otherwise.
    /// </summary>
    public static RevocationList Parse(ReadOnlyMemory<byte> der, X509Certificate2Collection authorities)
    {
        ArgumentNullException.ThrowIfNull(authorities);
        try
        {
            var outer = new AsnReader(der, AsnEncodingRules.DER);
            var list = outer.ReadSequence();
            outer.ThrowIfNotEmpty();
            var tbsBytes = list.PeekEncodedValue();
            var tbs = list.ReadSequence();
            var algorithm = list.ReadSequence();
            string algorithmOid = algorithm.ReadObjectIdentifier();
            var signature = list.ReadBitString(out _);
            list.ThrowIfNotEmpty();

            if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
            {
                tbs.ReadInteger(); // version v2
            }

            tbs.ReadSequence(); // the signature algorithm again
            byte[] issuer = tbs.ReadEncodedValue().ToArray();
            var thisUpdate = ReadTime(tbs);
            DateTimeOffset? nextUpdate = tbs.HasData && IsTime(tbs.PeekTag()) ? ReadTime(tbs) : null;
            var serials = new HashSet<string>(StringComparer.Ordinal);
            if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
            {
                var revoked = tbs.ReadSequence();
                while (revoked.HasData)
                {
                    var entry = revoked.ReadSequence();
                    serials.Add(Serial(entry.ReadIntegerBytes().Span));
                }
            }

            var ca = authorities.FirstOrDefault(a => a.SubjectName.RawData.AsSpan().SequenceEqual(issuer))
                ?? throw new CryptographicException($"issued by \"{new X500DistinguishedName(issuer).Name}\", which is not a CA of ca-file");
            if (!Verify(ca, algorithmOid, tbsBytes.Span, signature))
            {
                throw new CryptographicException($"its signature does not verify with the key of \"{ca.Subject}\"");
            }

            return new RevocationList(issuer, thisUpdate, nextUpdate, serials);
        }
        catch (AsnContentException e)
        {
            throw new CryptographicException("not a DER X.509 CRL: " + e.Message, e);
        }
    }

    /// <summary>Every CRL in a file: PEM (one or more <c>X509 CRL</c> blocks) or a single DER CRL.</summary>
    public static IReadOnlyList<RevocationList> ParseFile(byte[] bytes, X509Certificate2Collection authorities)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length > 0 && bytes[0] == 0x30)
        {
            return [Parse(bytes, authorities)];
        }

        var text = Encoding.ASCII.GetString(bytes);
        var lists = new List<RevocationList>();
        var rest = text.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            if (rest[fields.Label].SequenceEqual("X509 CRL"))
            {
                lists.Add(Parse(Convert.FromBase64String(rest[fields.Base64Data].ToString()), authorities));
            }

            rest = rest[fields.Location.End.Value..];
        }

        return lists.Count > 0 ? lists : throw new CryptographicException("neither a DER CRL nor PEM with an \"X509 CRL\" block");
    }

    private static bool Verify(X509Certificate2 ca, string oid, ReadOnlySpan<byte> data, byte[] signature)
    {
        (HashAlgorithmName hash, bool rsa) = oid switch
        {
            "1.2.840.113549.1.1.11" => (HashAlgorithmName.SHA256, true),
            "1.2.840.113549.1.1.12" => (HashAlgorithmName.SHA384, true),
            "1.2.840.113549.1.1.13" => (HashAlgorithmName.SHA512, true),
            "1.2.840.10045.4.3.2" => (HashAlgorithmName.SHA256, false),
            "1.2.840.10045.4.3.3" => (HashAlgorithmName.SHA384, false),
            "1.2.840.10045.4.3.4" => (HashAlgorithmName.SHA512, false),
            _ => throw new CryptographicException($"signature algorithm {oid} is not supported (RSA PKCS#1 or ECDSA with SHA-256/384/512)"),
        };
        if (rsa)
        {
            using var key = ca.GetRSAPublicKey() ?? throw new CryptographicException($"signed with RSA, but \"{ca.Subject}\" has no RSA key");
            return key.VerifyData(data, signature, hash, RSASignaturePadding.Pkcs1);
        }

        using var ecdsa = ca.GetECDsaPublicKey() ?? throw new CryptographicException($"signed with ECDSA, but \"{ca.Subject}\" has no EC key");
        return ecdsa.VerifyData(data, signature, hash, DSASignatureFormat.Rfc3279DerSequence);
    }

    private static bool IsTime(Asn1Tag tag) => tag.HasSameClassAndValue(Asn1Tag.UtcTime) || tag.HasSameClassAndValue(Asn1Tag.GeneralizedTime);

    private static DateTimeOffset ReadTime(AsnReader reader) =>
        reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime();

    /// <summary>A serial number as upper-case hex without leading zero bytes (DER keeps one for a positive number whose top bit is set).</summary>
    private static string Serial(ReadOnlySpan<byte> bigEndian)
    {
        while (bigEndian.Length > 1 && bigEndian[0] == 0)
        {
            bigEndian = bigEndian[1..];
        }

        return Convert.ToHexString(bigEndian);
    }
}

/// <summary>
/// <c>fabric.remote.tls.crl-file</c>: the CRLs a peer's certificate chain is checked against, read again when
/// the file changes (a revocation takes effect at the next handshake, without a restart). A new version that
/// cannot be used keeps the previous lists in force and is logged once. A list past its next-update time is
/// still applied, with a warning once per version of the file.
/// </summary>
public sealed class CrlFile
{
    private readonly X509Certificate2Collection _authorities;
    private readonly Lock _gate = new();
    private IReadOnlyList<RevocationList> _lists;
    private (DateTime Written, long Length) _stamp;
    private (DateTime Written, long Length)? _failedStamp;
    private bool _expiryReported;

    private CrlFile(string path, X509Certificate2Collection authorities, IReadOnlyList<RevocationList> lists, (DateTime, long) stamp)
    {
        Path = path;
        _authorities = authorities;
        _lists = lists;
        _stamp = stamp;
    }

    public string Path { get; }

    /// <summary>Reads and checks the file; throws <see cref="CryptographicException"/> or <see cref="IOException"/> with the reason.</summary>
    public static CrlFile Load(string path, X509Certificate2Collection authorities)
    {
        ArgumentNullException.ThrowIfNull(authorities);
        var stamp = Stamp(path);
        return new CrlFile(path, authorities, RevocationList.ParseFile(File.ReadAllBytes(path), authorities), stamp);
    }

    /// <summary>The lists in force now (after reading the file again if it changed).</summary>
    public IReadOnlyList<RevocationList> Current(ILoggingAdapter? log = null)
    {
        lock (_gate)
        {
            (DateTime, long) stamp;
            try
            {
                stamp = Stamp(Path);
            }
            catch (IOException e)
            {
                ReportFailure(log, Missing, e.Message);
                return _lists;
            }

            if (stamp == _stamp)
            {
                _failedStamp = null; // the version in force is back in place
            }
            else if (stamp != _failedStamp) // a version already found unusable is not read again
            {
                try
                {
                    _lists = RevocationList.ParseFile(File.ReadAllBytes(Path), _authorities);
                    _stamp = stamp;
                    _failedStamp = null;
                    _expiryReported = false;
                    log?.Info("fabric.remote.tls.crl-file \"{0}\" read again: {1} revoked certificate(s)", Path, _lists.Sum(l => l.Count));
                }
                catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or FormatException)
                {
                    ReportFailure(log, stamp, e.Message);
                }
            }

            if (!_expiryReported && _lists.FirstOrDefault(l => l.NextUpdate < DateTimeOffset.UtcNow) is { } stale)
            {
                _expiryReported = true;
                log?.Warning("fabric.remote.tls.crl-file \"{0}\": the CRL of \"{1}\" was due for renewal at {2:u}; still applied", Path, stale.Issuer, stale.NextUpdate);
            }

            return _lists;
        }
    }

    /// <summary>The list that revokes <paramref name="certificate"/>, or null.</summary>
    public RevocationList? Revoking(X509Certificate2 certificate, ILoggingAdapter? log = null) =>
        Current(log).FirstOrDefault(l => l.Revokes(certificate));

    /// <summary>The stamp of a file that is not there (so its absence, too, is logged once).</summary>
    private static readonly (DateTime, long) Missing = (DateTime.MinValue, -1);

    /// <summary>Logs once per version of the file (or once while it is missing) that it cannot be used.</summary>
    private void ReportFailure(ILoggingAdapter? log, (DateTime, long) stamp, string reason)
    {
        if (stamp == _failedStamp)
        {
            return;
        }

        _failedStamp = stamp;
        log?.Error("fabric.remote.tls.crl-file \"{0}\" cannot be used ({1}); the previous revocation lists stay in force", Path, reason);
    }

    private static (DateTime, long) Stamp(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"\"{path}\" does not exist", path);
        }

        return (info.LastWriteTimeUtc, info.Length);
    }
}
