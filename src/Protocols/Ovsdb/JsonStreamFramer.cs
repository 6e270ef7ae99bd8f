using System.Buffers;
using System.Text.Json;

namespace Fabric.Protocols.Ovsdb;

/// <summary>
/// Splits a byte stream of JSON objects sent back to back, with no delimiter (RFC 7047 section 3:
/// JSON-RPC 1.0 over a stream), into one complete object at a time.
/// </summary>
/// <remarks>
/// Bytes are appended with <see cref="Append"/>; <see cref="TryReadMessage"/> returns each complete
/// top-level object. The scan is incremental: a <see cref="Utf8JsonReader"/> with
/// <c>isFinalBlock: false</c> resumes from its saved <see cref="JsonReaderState"/>, so a large
/// message that arrives in many reads is scanned once. Anything that is not a JSON object at the
/// top level, or malformed JSON, raises <see cref="OvsdbProtocolException"/> naming the byte offset
/// in the stream; the framer is then unusable (the connection must be dropped).
/// Not thread-safe: one reader loop owns it.
/// </remarks>
public sealed class JsonStreamFramer
{
    /// <summary>Default largest message accepted (an initial monitor reply of a big switch can be several MiB).</summary>
    public const int DefaultMaxMessageBytes = 64 * 1024 * 1024;

    /// <summary>Deepest nesting accepted in a message.</summary>
    public const int MaxDepth = 256;

    private readonly int _maxMessageBytes;
    private byte[] _buffer;
    private int _start;        // first byte of the message being scanned
    private int _end;          // end of valid data
    private int _scanned;      // bytes of the current message already consumed by the reader
    private JsonReaderState _state;
    private bool _inMessage;
    private long _streamOffset; // stream offset of _buffer[0]
    private bool _faulted;

    public JsonStreamFramer(int maxMessageBytes = DefaultMaxMessageBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessageBytes, 2);
        _maxMessageBytes = maxMessageBytes;
        _buffer = new byte[Math.Min(64 * 1024, maxMessageBytes)];
    }

    /// <summary>Bytes buffered but not yet returned as a message.</summary>
    public int PendingBytes => _end - _start;

    /// <summary>Appends bytes read from the stream.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        if (_faulted)
        {
            throw new InvalidOperationException("The framer failed earlier; the connection must be dropped.");
        }

        if (data.Length > _buffer.Length - _end)
        {
            MakeRoom(data.Length);
        }

        data.CopyTo(_buffer.AsSpan(_end));
        _end += data.Length;
    }

    /// <summary>
    /// Returns the next complete top-level JSON object, or false when more bytes are needed.
    /// The returned memory is valid until the next call to <see cref="Append"/> or this method.
    /// </summary>
    /// <exception cref="OvsdbProtocolException">The stream is not a sequence of JSON objects.</exception>
    public bool TryReadMessage(out ReadOnlyMemory<byte> message)
    {
        message = default;
        if (_faulted)
        {
            throw new InvalidOperationException("The framer failed earlier; the connection must be dropped.");
        }

        if (!_inMessage)
        {
            // Skip whitespace between messages.
            while (_start < _end && IsJsonWhitespace(_buffer[_start]))
            {
                _start++;
            }

            if (_start == _end)
            {
                return false;
            }

            if (_buffer[_start] != (byte)'{')
            {
                Fail($"expected '{{' starting a JSON-RPC message at stream offset {_streamOffset + _start}, got byte 0x{_buffer[_start]:x2}");
            }

            _inMessage = true;
            _scanned = 0;
            _state = new JsonReaderState(new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = MaxDepth });
        }

        var span = _buffer.AsSpan(_start + _scanned, _end - _start - _scanned);
        var reader = new Utf8JsonReader(span, isFinalBlock: false, _state);
        try
        {
            while (reader.Read())
            {
                if (reader.CurrentDepth == 0 && reader.TokenType == JsonTokenType.EndObject)
                {
                    var length = _scanned + (int)reader.BytesConsumed;
                    message = new ReadOnlyMemory<byte>(_buffer, _start, length);
                    _start += length;
                    _inMessage = false;
                    _scanned = 0;
                    return true;
                }
            }
        }
        catch (JsonException ex)
        {
            Fail($"malformed JSON in the message starting at stream offset {_streamOffset + _start}: {ex.Message}");
        }

        _scanned += (int)reader.BytesConsumed;
        _state = reader.CurrentState;
        if (_end - _start >= _maxMessageBytes)
        {
            Fail($"message at stream offset {_streamOffset + _start} exceeds {_maxMessageBytes} bytes without ending");
        }

        return false;
    }

    private void MakeRoom(int needed)
    {
        var live = _end - _start;
        if (live + needed > _maxMessageBytes + 64 * 1024)
        {
            Fail($"message at stream offset {_streamOffset + _start} exceeds {_maxMessageBytes} bytes without ending");
        }

        if (live + needed <= _buffer.Length && _start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, live);
        }
        else
        {
            var size = _buffer.Length;
            while (size < live + needed)
            {
                size *= 2;
            }

            var bigger = new byte[size];
            Buffer.BlockCopy(_buffer, _start, bigger, 0, live);
            _buffer = bigger;
        }

        _streamOffset += _start;
        _end = live;
        _start = 0;
    }

    private static bool IsJsonWhitespace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r';

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void Fail(string problem)
    {
        _faulted = true;
        throw new OvsdbProtocolException(problem);
    }
}
