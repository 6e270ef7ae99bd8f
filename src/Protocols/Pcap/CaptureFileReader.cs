using System.Buffers.Binary;
using System.Globalization;

namespace Fabric.Protocols.Pcap;

/// <summary>
/// Reads classic pcap (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html: µs, ns and
/// Kuznetzov "modified" magic, both byte orders) and pcapng
/// (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html: SHB, IDB, EPB, SPB and the
/// obsolete PB; several interfaces, each with its link type and timestamp resolution; several
/// sections; unknown blocks skipped; both byte orders), detected by the magic number.
/// <para>
/// One buffer (1 MiB by default) is filled by large sequential reads and reused: reading a record
/// allocates nothing. A file whose header is unreadable throws <see cref="CaptureFileException"/>
/// from <see cref="Open(string, int, int)"/>; after that, <see cref="ReadNext"/> never throws for bad
/// content (only for I/O failures of the stream): it returns a <see cref="CaptureReadStatus"/>.
/// </para>
/// </summary>
public sealed class CaptureFileReader : IDisposable
{
    /// <summary>Default cap on a record's captured length: libpcap's MAXIMUM_SNAPLEN.</summary>
    public const int DefaultMaxRecordLength = 262_144;

    /// <summary>Default size of the read buffer.</summary>
    public const int DefaultBufferSize = 1 << 20;

    /// <summary>Largest cap a caller may ask for.</summary>
    public const int HardMaxRecordLength = 64 << 20;

    // Classic pcap magic numbers as read little-endian from the first four bytes.
    private const uint MagicMicroseconds = 0xA1B2C3D4;
    private const uint MagicNanoseconds = 0xA1B23C4D;
    private const uint MagicModified = 0xA1B2CD34;
    private const int ClassicFileHeaderLength = 24;
    private const int ClassicRecordHeaderLength = 16;
    private const int ModifiedRecordHeaderLength = 24;

    // pcapng block types.
    private const uint BlockSectionHeader = 0x0A0D0D0A;
    private const uint BlockInterfaceDescription = 0x00000001;
    private const uint BlockPacketObsolete = 0x00000002;
    private const uint BlockSimplePacket = 0x00000003;
    private const uint BlockEnhancedPacket = 0x00000006;
    private const uint ByteOrderMagic = 0x1A2B3C4D;
    private const int MinimumSectionHeaderLength = 28;
    private const int BlockOverheadAllowance = 65_536;

    // pcapng IDB options.
    private const ushort OptionEnd = 0;
    private const ushort OptionIfTsResol = 9;
    private const ushort OptionIfTsOffset = 14;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly string _name;
    private readonly int _maxRecordLength;
    private readonly int _maxBlockLength;
    private byte[] _buffer;
    private int _pos;
    private int _end;
    private bool _eof;
    private long _bufferFileOffset;

    private bool _swapped;
    private int _classicRecordHeaderLength;
    private bool _classicNanoseconds;
    private uint _classicLinkType;

    private readonly List<CaptureInterface> _interfaces = [];
    private InterfaceClock[] _clocks = new InterfaceClock[4];
    private int _sectionInterfaceCount;

    private CaptureReadStatus _terminal = CaptureReadStatus.Packet;

    private CaptureFileReader(Stream stream, bool leaveOpen, string name, int bufferSize, int maxRecordLength)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRecordLength, 64);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxRecordLength, HardMaxRecordLength);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _name = name;
        _maxRecordLength = maxRecordLength;
        _maxBlockLength = maxRecordLength + BlockOverheadAllowance;
        _buffer = new byte[Math.Max(bufferSize, _maxBlockLength + 64)];
    }

    /// <summary>Container format, from the magic number.</summary>
    public CaptureFileFormat Format { get; private set; }

    /// <summary>True when classic pcap records carry nanoseconds (pcapng: see each interface).</summary>
    public bool NanosecondTimestamps => _classicNanoseconds;

    /// <summary>Classic pcap: the file's link type. pcapng: the first interface's link type (0 if none described yet).</summary>
    public uint LinkType => Format == CaptureFileFormat.Pcap
        ? _classicLinkType
        : _interfaces.Count > 0 ? _interfaces[0].LinkType : 0;

    /// <summary>Classic pcap: the snapshot length of the file header. pcapng: the first interface's.</summary>
    public uint SnapLength { get; private set; }

    /// <summary>True when the file was written on a host of the other byte order (current section for pcapng).</summary>
    public bool ByteSwapped => _swapped;

    /// <summary>Interfaces described so far (classic pcap: exactly one). For pcapng, all sections appended.</summary>
    public IReadOnlyList<CaptureInterface> Interfaces => _interfaces;

    /// <summary>Records returned so far.</summary>
    public long RecordCount { get; private set; }

    /// <summary>Byte offset in the file of the next unread record or block.</summary>
    public long Position => _bufferFileOffset + _pos;

    /// <summary>One line saying what ended the file abnormally; null while everything was fine.</summary>
    public string? Problem { get; private set; }

    /// <summary>Opens a file and reads its header.</summary>
    /// <exception cref="CaptureFileException">The file is not a capture file, or its header is truncated or of an unknown version.</exception>
    /// <exception cref="IOException">The file cannot be opened or read.</exception>
    public static CaptureFileReader Open(string path, int bufferSize = DefaultBufferSize, int maxRecordLength = DefaultMaxRecordLength)
    {
        // ReadWrite/Delete: a capture still being written (or rotated away) can be read up to its torn end.
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0, FileOptions.SequentialScan);
        try
        {
            return Open(stream, leaveOpen: false, path, bufferSize, maxRecordLength);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Reads the header of a capture from a stream (read sequentially, never seeked).</summary>
    /// <param name="stream">The capture bytes.</param>
    /// <param name="leaveOpen">Keep <paramref name="stream"/> open on dispose.</param>
    /// <param name="name">Name of the source in messages (a file name).</param>
    /// <param name="bufferSize">Read buffer size (grown to hold the largest allowed record).</param>
    /// <param name="maxRecordLength">Captured lengths above this are reported as <see cref="CaptureReadStatus.RecordTooLarge"/>.</param>
    /// <exception cref="CaptureFileException">The stream is not a capture, or its header is truncated or of an unknown version.</exception>
    public static CaptureFileReader Open(Stream stream, bool leaveOpen, string name, int bufferSize = DefaultBufferSize, int maxRecordLength = DefaultMaxRecordLength)
    {
        var reader = new CaptureFileReader(stream, leaveOpen, name, bufferSize, maxRecordLength);
        try
        {
            reader.ReadFileHeader();
            return reader;
        }
        catch
        {
            if (!leaveOpen)
            {
                reader.Dispose();
            }

            throw;
        }
    }

    /// <summary>
    /// Reads the next packet record. On <see cref="CaptureReadStatus.Packet"/>, <paramref name="record"/>
    /// points into the reader's buffer until the next call. Any other status ends the file (see
    /// <see cref="Problem"/>); later calls return it again.
    /// </summary>
    public CaptureReadStatus ReadNext(out CaptureRecord record)
    {
        if (_terminal != CaptureReadStatus.Packet)
        {
            record = default;
            return _terminal;
        }

        var status = Format == CaptureFileFormat.Pcap ? ReadClassic(out record) : ReadPcapNg(out record, stopBeforePacket: false);
        if (status == CaptureReadStatus.Packet)
        {
            RecordCount++;
        }
        else
        {
            _terminal = status;
        }

        return status;
    }

    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    // ---------------------------------------------------------------- file header

    private void ReadFileHeader()
    {
        Fill(ClassicFileHeaderLength);
        var available = _end - _pos;
        if (available < 4)
        {
            CaptureFileException.Throw(string.Create(CultureInfo.InvariantCulture,
                $"{_name}: not a capture file (only {available} bytes; a pcap or pcapng file starts with a 4-byte magic number)"));
        }

        var magic = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_pos));
        if (magic == BlockSectionHeader)
        {
            Format = CaptureFileFormat.PcapNg;
            ReadFirstSectionHeader();
            // Read the interface descriptions that precede the first packet, so that LinkType is
            // known before the first ReadNext. Damage found here is reported by ReadNext.
            var status = ReadPcapNg(out _, stopBeforePacket: true);
            if (status != CaptureReadStatus.Packet)
            {
                _terminal = status;
            }

            return;
        }

        Format = CaptureFileFormat.Pcap;
        var swappedMagic = BinaryPrimitives.ReverseEndianness(magic);
        _swapped = swappedMagic is MagicMicroseconds or MagicNanoseconds or MagicModified;
        var native = _swapped ? swappedMagic : magic;
        switch (native)
        {
            case MagicMicroseconds:
                _classicRecordHeaderLength = ClassicRecordHeaderLength;
                break;
            case MagicNanoseconds:
                _classicRecordHeaderLength = ClassicRecordHeaderLength;
                _classicNanoseconds = true;
                break;
            case MagicModified:
                _classicRecordHeaderLength = ModifiedRecordHeaderLength;
                break;
            default:
                var what = (magic & 0xFFFF) == 0x8B1F ? "it is gzip-compressed; decompress it first" : "neither pcap nor pcapng";
                CaptureFileException.Throw(string.Create(CultureInfo.InvariantCulture,
                    $"{_name}: not a capture file (magic 0x{magic:x8}: {what})"));
                break;
        }

        if (available < ClassicFileHeaderLength)
        {
            CaptureFileException.Throw(string.Create(CultureInfo.InvariantCulture,
                $"{_name}: truncated pcap file header ({available} of {ClassicFileHeaderLength} bytes)"));
        }

        var header = _buffer.AsSpan(_pos, ClassicFileHeaderLength);
        var major = U16(header[4..]);
        var minor = U16(header[6..]);
        if (major != 2)
        {
            CaptureFileException.Throw(string.Create(CultureInfo.InvariantCulture,
                $"{_name}: unsupported pcap version {major}.{minor} (only 2.x is defined)"));
        }

        SnapLength = U32(header[16..]);
        // The upper bits of the link-type word carry FCS information (LT_FCS_*); the type is the low 26 bits.
        _classicLinkType = U32(header[20..]) & 0x03FF_FFFF;
        _interfaces.Add(new CaptureInterface(_classicLinkType, SnapLength, _classicNanoseconds ? "1e-9" : "1e-6", _classicNanoseconds));
        _pos += ClassicFileHeaderLength;
    }

    private void ReadFirstSectionHeader()
    {
        var available = _end - _pos;
        if (available < 12)
        {
            CaptureFileException.Throw(string.Create(CultureInfo.InvariantCulture,
                $"{_name}: truncated pcapng section header ({available} of {MinimumSectionHeaderLength} bytes)"));
        }

        var error = ParseSectionHeader(out var length);
        if (error == CaptureReadStatus.TruncatedRecord)
        {
            CaptureFileException.Throw(string.Create(CultureInfo.InvariantCulture,
                $"{_name}: truncated pcapng section header ({_end - _pos} of {length} bytes)"));
        }

        if (error != CaptureReadStatus.Packet)
        {
            CaptureFileException.Throw(Problem ?? $"{_name}: bad pcapng section header");
        }

        _pos += length;
    }

    /// <summary>Parses the SHB at <see cref="_pos"/>; sets the byte order; does not advance.</summary>
    private CaptureReadStatus ParseSectionHeader(out int length)
    {
        length = MinimumSectionHeaderLength;
        if (!Fill(12))
        {
            return CaptureReadStatus.TruncatedRecord;
        }

        var bom = BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_pos + 8));
        if (bom == ByteOrderMagic)
        {
            _swapped = false;
        }
        else if (bom == BinaryPrimitives.ReverseEndianness(ByteOrderMagic))
        {
            _swapped = true;
        }
        else
        {
            return Fail(CaptureReadStatus.MalformedBlock, $"byte-order magic 0x{bom:x8} is not 0x1a2b3c4d");
        }

        var total = U32(_buffer.AsSpan(_pos + 4));
        if (total < MinimumSectionHeaderLength || total % 4 != 0)
        {
            return Fail(CaptureReadStatus.MalformedBlock, $"section header length {total} is not a multiple of 4 of at least {MinimumSectionHeaderLength}");
        }

        if (total > (uint)_maxBlockLength)
        {
            return Fail(CaptureReadStatus.RecordTooLarge, $"section header length {total} exceeds the cap of {_maxBlockLength}");
        }

        length = (int)total;
        if (!Fill(length))
        {
            return CaptureReadStatus.TruncatedRecord;
        }

        var block = _buffer.AsSpan(_pos, length);
        var major = U16(block[12..]);
        if (major != 1)
        {
            return Fail(CaptureReadStatus.MalformedBlock, $"unsupported pcapng version {major}.{U16(block[14..])}");
        }

        if (U32(block[(length - 4)..]) != total)
        {
            return Fail(CaptureReadStatus.MalformedBlock, $"section header trailing length {U32(block[(length - 4)..])} differs from {total}");
        }

        _sectionInterfaceCount = 0;
        return CaptureReadStatus.Packet;
    }

    // ---------------------------------------------------------------- classic pcap

    private CaptureReadStatus ReadClassic(out CaptureRecord record)
    {
        // Fast path, for every record but the one that crosses the end of the buffered bytes: the header and the
        // data are read where they lie, no refill check, no copy.
        var headerLength = _classicRecordHeaderLength;
        var available = _end - _pos;
        if (available >= headerLength)
        {
            var header = _buffer.AsSpan(_pos, headerLength);
            var captured = U32(header[8..]);
            if (captured <= (uint)(available - headerLength) && captured <= (uint)_maxRecordLength)
            {
                record = new CaptureRecord(
                    _buffer.AsSpan(_pos + headerLength, (int)captured),
                    ClassicTimestamp(U32(header), U32(header[4..])),
                    (int)Math.Min(U32(header[12..]), int.MaxValue),
                    _classicLinkType,
                    0);
                _pos += headerLength + (int)captured;
                return CaptureReadStatus.Packet;
            }
        }

        return ReadClassicAcrossRefill(out record);
    }

    private long ClassicTimestamp(uint seconds, uint fraction) =>
        (long)seconds * 1_000_000_000L + (_classicNanoseconds ? fraction : fraction * 1_000L);

    /// <summary>The record is not wholly in the buffer: refilled (moved to the front, grown if need be), or the file
    /// ends inside it.</summary>
    private CaptureReadStatus ReadClassicAcrossRefill(out CaptureRecord record)
    {
        record = default;
        var headerLength = _classicRecordHeaderLength;
        if (!Fill(headerLength))
        {
            return _end == _pos
                ? CaptureReadStatus.EndOfFile
                : Torn($"record header needs {headerLength} bytes, the file ends after {_end - _pos}");
        }

        var header = _buffer.AsSpan(_pos, headerLength);
        var seconds = U32(header);
        var fraction = U32(header[4..]);
        var captured = U32(header[8..]);
        var original = U32(header[12..]);
        if (captured > (uint)_maxRecordLength)
        {
            return Fail(CaptureReadStatus.RecordTooLarge, $"captured length {captured} exceeds the cap of {_maxRecordLength}");
        }

        var total = headerLength + (int)captured;
        if (!Fill(total))
        {
            return Torn($"record needs {total} bytes, the file ends after {_end - _pos}");
        }

        var timestamp = ClassicTimestamp(seconds, fraction);
        record = new CaptureRecord(
            _buffer.AsSpan(_pos + headerLength, (int)captured),
            timestamp,
            (int)Math.Min(original, int.MaxValue),
            _classicLinkType,
            0);
        _pos += total;
        return CaptureReadStatus.Packet;
    }

    // ---------------------------------------------------------------- pcapng

    /// <summary>
    /// Reads blocks up to and including the next packet block. With <paramref name="stopBeforePacket"/>,
    /// stops in front of the first packet block or section header instead and returns Packet without a record.
    /// </summary>
    private CaptureReadStatus ReadPcapNg(out CaptureRecord record, bool stopBeforePacket)
    {
        record = default;
        while (true)
        {
            if (!Fill(12))
            {
                return _end == _pos
                    ? CaptureReadStatus.EndOfFile
                    : Torn($"block header needs 12 bytes, the file ends after {_end - _pos}");
            }

            var type = U32(_buffer.AsSpan(_pos));
            if (stopBeforePacket && type is BlockSectionHeader or BlockEnhancedPacket or BlockSimplePacket or BlockPacketObsolete)
            {
                return CaptureReadStatus.Packet;
            }

            if (type == BlockSectionHeader)
            {
                var shb = ParseSectionHeader(out var shbLength);
                if (shb == CaptureReadStatus.TruncatedRecord)
                {
                    return Torn($"section header needs {shbLength} bytes, the file ends after {_end - _pos}");
                }

                if (shb != CaptureReadStatus.Packet)
                {
                    return shb;
                }

                _pos += shbLength;
                continue;
            }

            var total = U32(_buffer.AsSpan(_pos + 4));
            if (total < 12 || total % 4 != 0)
            {
                return Fail(CaptureReadStatus.MalformedBlock, $"block type 0x{type:x8} has length {total}, not a multiple of 4 of at least 12");
            }

            if (total > (uint)_maxBlockLength)
            {
                return Fail(CaptureReadStatus.RecordTooLarge, $"block type 0x{type:x8} length {total} exceeds the cap of {_maxBlockLength}");
            }

            var length = (int)total;
            if (!Fill(length))
            {
                return Torn($"block type 0x{type:x8} needs {length} bytes, the file ends after {_end - _pos}");
            }

            var block = _buffer.AsSpan(_pos, length);
            if (U32(block[(length - 4)..]) != total)
            {
                return Fail(CaptureReadStatus.MalformedBlock, $"block type 0x{type:x8} trailing length {U32(block[(length - 4)..])} differs from {total}");
            }

            CaptureReadStatus status;
            switch (type)
            {
                case BlockEnhancedPacket:
                    status = ReadPacketBlock(block, U32(block[8..]), 12, out record);
                    break;
                case BlockPacketObsolete:
                    status = ReadPacketBlock(block, U16(block[8..]), 12, out record);
                    break;
                case BlockSimplePacket:
                    status = ReadSimplePacketBlock(block, out record);
                    break;
                case BlockInterfaceDescription:
                    status = ReadInterfaceDescription(block);
                    if (status == CaptureReadStatus.Packet)
                    {
                        _pos += length;
                        continue;
                    }

                    break;
                default:
                    // Name resolution, statistics, decryption secrets, custom and unknown blocks.
                    _pos += length;
                    continue;
            }

            if (status == CaptureReadStatus.Packet)
            {
                _pos += length;
            }

            return status;
        }
    }

    private CaptureReadStatus ReadPacketBlock(ReadOnlySpan<byte> block, uint interfaceId, int timestampOffset, out CaptureRecord record)
    {
        // EPB: type, length, interface id, ts high, ts low, captured, original, data..., options, length.
        // PB (obsolete): same layout with a 16-bit interface id and 16-bit drop count.
        record = default;
        const int fixedLength = 32;
        if (block.Length < fixedLength)
        {
            return Fail(CaptureReadStatus.MalformedBlock, $"packet block length {block.Length} is below {fixedLength}");
        }

        if (interfaceId >= (uint)_sectionInterfaceCount)
        {
            return Fail(CaptureReadStatus.MalformedBlock, $"packet block refers to interface {interfaceId}, the section describes {_sectionInterfaceCount}");
        }

        var captured = U32(block[(timestampOffset + 8)..]);
        var original = U32(block[(timestampOffset + 12)..]);
        if (captured > (uint)_maxRecordLength)
        {
            return Fail(CaptureReadStatus.RecordTooLarge, $"captured length {captured} exceeds the cap of {_maxRecordLength}");
        }

        if (captured > (uint)(block.Length - fixedLength))
        {
            return Fail(CaptureReadStatus.MalformedBlock, $"captured length {captured} does not fit in a block of {block.Length} bytes");
        }

        var ticks = ((ulong)U32(block[timestampOffset..]) << 32) | U32(block[(timestampOffset + 4)..]);
        var clockIndex = _interfaces.Count - _sectionInterfaceCount + (int)interfaceId;
        record = new CaptureRecord(
            _buffer.AsSpan(_pos + 28, (int)captured),
            _clocks[clockIndex].ToNanoseconds(ticks),
            (int)Math.Min(original, int.MaxValue),
            _interfaces[clockIndex].LinkType,
            (int)interfaceId);
        return CaptureReadStatus.Packet;
    }

    private CaptureReadStatus ReadSimplePacketBlock(ReadOnlySpan<byte> block, out CaptureRecord record)
    {
        // SPB: type, length, original length, data..., length. Interface 0, no timestamp.
        record = default;
        const int fixedLength = 16;
        if (block.Length < fixedLength)
        {
            return Fail(CaptureReadStatus.MalformedBlock, $"simple packet block length {block.Length} is below {fixedLength}");
        }

        if (_sectionInterfaceCount == 0)
        {
            return Fail(CaptureReadStatus.MalformedBlock, "simple packet block before any interface description");
        }

        var first = _interfaces.Count - _sectionInterfaceCount;
        var original = U32(block[8..]);
        var captured = Math.Min(original, (uint)(block.Length - fixedLength));
        var snap = _interfaces[first].SnapLength;
        if (snap != 0)
        {
            captured = Math.Min(captured, snap);
        }

        if (captured > (uint)_maxRecordLength)
        {
            return Fail(CaptureReadStatus.RecordTooLarge, $"captured length {captured} exceeds the cap of {_maxRecordLength}");
        }

        record = new CaptureRecord(
            _buffer.AsSpan(_pos + 12, (int)captured),
            0,
            (int)Math.Min(original, int.MaxValue),
            _interfaces[first].LinkType,
            0);
        return CaptureReadStatus.Packet;
    }

    private CaptureReadStatus ReadInterfaceDescription(ReadOnlySpan<byte> block)
    {
        // IDB: type, length, link type (16), reserved (16), snap length, options..., length.
        const int fixedLength = 20;
        if (block.Length < fixedLength)
        {
            return Fail(CaptureReadStatus.MalformedBlock, $"interface description length {block.Length} is below {fixedLength}");
        }

        var linkType = (uint)U16(block[8..]);
        var snap = U32(block[12..]);
        var clock = InterfaceClock.Microseconds;
        var resolution = "1e-6";
        var fine = false;
        var options = block[16..^4];
        while (options.Length >= 4)
        {
            var code = U16(options);
            var optionLength = U16(options[2..]);
            if (code == OptionEnd)
            {
                break;
            }

            var padded = (optionLength + 3) & ~3;
            if (4 + padded > options.Length)
            {
                return Fail(CaptureReadStatus.MalformedBlock, $"interface option {code} of length {optionLength} overruns its block");
            }

            var value = options.Slice(4, optionLength);
            if (code == OptionIfTsResol && optionLength >= 1)
            {
                if (!InterfaceClock.TryFromResolution(value[0], clock.OffsetNs, out clock))
                {
                    return Fail(CaptureReadStatus.MalformedBlock, $"interface timestamp resolution 0x{value[0]:x2} is beyond 1e-19 or 2^-63");
                }

                fine = (value[0] & 0x80) != 0 ? (value[0] & 0x7F) > 19 : value[0] > 6;
                resolution = (value[0] & 0x80) != 0
                    ? string.Create(CultureInfo.InvariantCulture, $"2^-{value[0] & 0x7F}")
                    : string.Create(CultureInfo.InvariantCulture, $"1e-{value[0]}");
            }
            else if (code == OptionIfTsOffset && optionLength >= 8)
            {
                var seconds = _swapped ? BinaryPrimitives.ReadInt64BigEndian(value) : BinaryPrimitives.ReadInt64LittleEndian(value);
                clock = clock with { OffsetNs = seconds * 1_000_000_000L };
            }

            options = options[(4 + padded)..];
        }

        if (_interfaces.Count == _clocks.Length)
        {
            Array.Resize(ref _clocks, _clocks.Length * 2);
        }

        _clocks[_interfaces.Count] = clock;
        _interfaces.Add(new CaptureInterface(linkType, snap, resolution, fine));
        _sectionInterfaceCount++;
        if (_interfaces.Count == 1)
        {
            SnapLength = snap;
        }

        return CaptureReadStatus.Packet;
    }

    // ---------------------------------------------------------------- buffer

    /// <summary>Makes at least <paramref name="count"/> bytes available at <see cref="_pos"/>; false at end of file.</summary>
    private bool Fill(int count)
    {
        if (_end - _pos >= count)
        {
            return true;
        }

        if (_eof)
        {
            return false;
        }

        if (_pos + count > _buffer.Length)
        {
            var remaining = _end - _pos;
            if (remaining > 0)
            {
                Buffer.BlockCopy(_buffer, _pos, _buffer, 0, remaining);
            }

            _bufferFileOffset += _pos;
            _pos = 0;
            _end = remaining;
            if (count > _buffer.Length)
            {
                // Doubling: a run of ever larger records costs a logarithmic number of copies.
                Array.Resize(ref _buffer, (int)Math.Min(Math.Max(count, 2L * _buffer.Length), Array.MaxLength));
            }
        }

        while (_end - _pos < count)
        {
            var read = _stream.Read(_buffer, _end, _buffer.Length - _end);
            if (read <= 0)
            {
                _eof = true;
                return false;
            }

            _end += read;
        }

        return true;
    }

    private CaptureReadStatus Torn(string detail) => Fail(CaptureReadStatus.TruncatedRecord, detail);

    private CaptureReadStatus Fail(CaptureReadStatus status, string detail)
    {
        var what = status switch
        {
            CaptureReadStatus.TruncatedRecord => "the last record is cut short",
            CaptureReadStatus.RecordTooLarge => "a record length is absurd",
            _ => "a block is malformed",
        };
        Problem = string.Create(CultureInfo.InvariantCulture,
            $"{_name}: {what} at byte {Position} after {RecordCount} good records: {detail}");
        return status;
    }

    private ushort U16(ReadOnlySpan<byte> source)
    {
        var value = BinaryPrimitives.ReadUInt16LittleEndian(source);
        return _swapped ? BinaryPrimitives.ReverseEndianness(value) : value;
    }

    private uint U32(ReadOnlySpan<byte> source)
    {
        var value = BinaryPrimitives.ReadUInt32LittleEndian(source);
        return _swapped ? BinaryPrimitives.ReverseEndianness(value) : value;
    }

    /// <summary>Converts an interface's timestamp units to nanoseconds.</summary>
    private readonly record struct InterfaceClock(ulong Multiplier, ulong Divisor, int BinaryShift, long OffsetNs)
    {
        public static InterfaceClock Microseconds => new(1_000, 1, 0, 0);

        public static bool TryFromResolution(byte tsresol, long offsetNs, out InterfaceClock clock)
        {
            var exponent = tsresol & 0x7F;
            if ((tsresol & 0x80) != 0)
            {
                clock = new InterfaceClock(0, 0, exponent, offsetNs);
                return exponent <= 63;
            }

            if (exponent > 19)
            {
                clock = Microseconds;
                return false;
            }

            clock = exponent <= 9
                ? new InterfaceClock(Pow10(9 - exponent), 1, 0, offsetNs)
                : new InterfaceClock(1, Pow10(exponent - 9), 0, offsetNs);
            return true;
        }

        public long ToNanoseconds(ulong ticks)
        {
            ulong ns;
            if (Multiplier == 0)
            {
                ns = (ulong)(((UInt128)ticks * 1_000_000_000UL) >> BinaryShift);
            }
            else if (Divisor == 1)
            {
                ns = ticks * Multiplier;
            }
            else
            {
                ns = ticks / Divisor;
            }

            return unchecked((long)ns + OffsetNs);
        }

        private static ulong Pow10(int exponent)
        {
            var value = 1UL;
            for (var i = 0; i < exponent; i++)
            {
                value *= 10;
            }

            return value;
        }
    }
}
