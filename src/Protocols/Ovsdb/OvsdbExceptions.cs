namespace Fabric.Protocols.Ovsdb;

/// <summary>Base of every OVSDB client failure.</summary>
public class OvsdbException : Exception
{
    public OvsdbException()
    {
    }

    public OvsdbException(string message)
        : base(message)
    {
    }

    public OvsdbException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>The server sent bytes that are not JSON-RPC 1.0 as RFC 7047 describes; the connection is dropped.</summary>
public sealed class OvsdbProtocolException : OvsdbException
{
    public OvsdbProtocolException()
    {
    }

    public OvsdbProtocolException(string message)
        : base(message)
    {
    }

    public OvsdbProtocolException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>The connection is not up (never connected, closed, or lost while the request was pending).</summary>
public sealed class OvsdbConnectionException : OvsdbException
{
    public OvsdbConnectionException()
    {
    }

    public OvsdbConnectionException(string message)
        : base(message)
    {
    }

    public OvsdbConnectionException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// The server answered with an error: a JSON-RPC error, or a transaction whose operation failed
/// (RFC 7047 section 4.1.3: <c>{"error": ..., "details": ...}</c> in the result array).
/// </summary>
public sealed class OvsdbErrorException : OvsdbException
{
    public OvsdbErrorException()
    {
    }

    public OvsdbErrorException(string message)
        : base(message)
    {
    }

    public OvsdbErrorException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public OvsdbErrorException(string error, string? details, int? operationIndex)
        : base(Describe(error, details, operationIndex))
    {
        Error = error;
        Details = details;
        OperationIndex = operationIndex;
    }

    /// <summary>The error string (e.g. <c>constraint violation</c>, <c>referential integrity violation</c>).</summary>
    public string Error { get; } = "";

    /// <summary>The server's details, if any.</summary>
    public string? Details { get; }

    /// <summary>Index of the failing operation in the transaction, or null for a request-level error.</summary>
    public int? OperationIndex { get; }

    private static string Describe(string error, string? details, int? index)
    {
        var where = index is { } i ? $"operation {i}: " : "";
        return details is null ? $"{where}{error}" : $"{where}{error} ({details})";
    }
}
