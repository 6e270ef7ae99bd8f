using System.Diagnostics.CodeAnalysis;

namespace Fabric.Protocols.Pcap;

/// <summary>
/// A file cannot be read as a capture at all: it is not a pcap/pcapng file, its file header is cut
/// short, or its version is unknown. The message is one line and names the file.
/// Problems inside the file after a good header are not thrown: they are reported by
/// <see cref="CaptureFileReader.ReadNext"/> as a <see cref="CaptureReadStatus"/>.
/// </summary>
public sealed class CaptureFileException : Exception
{
    public CaptureFileException()
    {
    }

    public CaptureFileException(string message)
        : base(message)
    {
    }

    public CaptureFileException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    [DoesNotReturn]
    internal static void Throw(string message) => throw new CaptureFileException(message);
}
