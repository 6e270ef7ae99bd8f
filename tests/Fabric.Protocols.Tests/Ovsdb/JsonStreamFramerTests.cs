using Xunit;
using System.Text;
using Fabric.Protocols.Ovsdb;

namespace Fabric.Protocols.Tests.Ovsdb;

public sealed class JsonStreamFramerTests
{
    // Shapes as ovsdb-server sends them (captured with `ovsdb-client -v monitor-cond`): an update2
    // notification, an echo request and a transact reply, back to back without delimiter.
    private const string Update2 = """{"id":null,"method":"update2","params":["fabric",{"Port":{"6c1b9e55-58a1-4c4d-9d0e-5b8c7d1b2f10":{"insert":{"name":"tap101i1"}}}}]}""";
    private const string Echo = """{"id":"echo","method":"echo","params":[]}""";
    private const string Reply = """{"id":3,"result":[{"uuid":["uuid","0b8f6a55-0d3e-4c8e-a0a5-6c3a5e3b9a11"]},{"count":1}],"error":null}""";

    private static List<string> Feed(JsonStreamFramer framer, byte[] bytes, int chunk)
    {
        var messages = new List<string>();
        for (var i = 0; i < bytes.Length; i += chunk)
        {
            framer.Append(bytes.AsSpan(i, Math.Min(chunk, bytes.Length - i)));
            while (framer.TryReadMessage(out var m))
            {
                messages.Add(Encoding.UTF8.GetString(m.Span));
            }
        }

        return messages;
    }

    [Fact]
    public void Concatenated_messages_come_out_one_by_one()
    {
        var framer = new JsonStreamFramer();
        var messages = Feed(framer, Encoding.UTF8.GetBytes(Update2 + Echo + Reply), int.MaxValue / 2);
        Assert.Equal([Update2, Echo, Reply], messages);
        Assert.Equal(0, framer.PendingBytes);
    }

    [Fact]
    public void Every_split_point_gives_the_same_messages()
    {
        var bytes = Encoding.UTF8.GetBytes(Update2 + "\n" + Echo + " \r\n\t" + Reply);
        for (var chunk = 1; chunk <= bytes.Length; chunk++)
        {
            var messages = Feed(new JsonStreamFramer(), bytes, chunk);
            Assert.Equal([Update2, Echo, Reply], messages);
        }
    }

    [Fact]
    public void Braces_and_escapes_inside_strings_do_not_end_a_message()
    {
        const string tricky = """{"id":1,"result":{"details":"} { \" \\ }\u007d"},"error":null}""";
        var messages = Feed(new JsonStreamFramer(), Encoding.UTF8.GetBytes(tricky + tricky), 3);
        Assert.Equal([tricky, tricky], messages);
    }

    [Fact]
    public void Incomplete_message_waits_for_more()
    {
        var framer = new JsonStreamFramer();
        framer.Append(Encoding.UTF8.GetBytes(Reply[..^1]));
        Assert.False(framer.TryReadMessage(out _));
        Assert.False(framer.TryReadMessage(out _));
        framer.Append("}"u8);
        Assert.True(framer.TryReadMessage(out var message));
        Assert.Equal(Reply, Encoding.UTF8.GetString(message.Span));
    }

    [Theory]
    [InlineData("garbage", "expected '{'")]
    [InlineData("[1,2]", "expected '{'")]
    [InlineData("{\"id\":1,}", "malformed JSON")]
    [InlineData("{\"id\":tru}", "malformed JSON")]
    [InlineData("{\"a\":1}}", "expected '{'")]
    public void Garbage_is_a_clear_error_naming_the_offset(string input, string expected)
    {
        var framer = new JsonStreamFramer();
        framer.Append(Encoding.UTF8.GetBytes(input));
        var ex = Assert.Throws<OvsdbProtocolException>(() =>
        {
            while (framer.TryReadMessage(out _))
            {
            }
        });
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Contains("stream offset", ex.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => framer.TryReadMessage(out _));
    }

    [Fact]
    public void Error_offset_counts_bytes_of_earlier_messages()
    {
        var framer = new JsonStreamFramer();
        var messages = Feed(framer, Encoding.UTF8.GetBytes(Echo), 5);
        Assert.Single(messages);
        framer.Append("x"u8);
        var ex = Assert.Throws<OvsdbProtocolException>(() => framer.TryReadMessage(out _));
        Assert.Contains($"stream offset {Echo.Length}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_message_longer_than_the_limit_is_refused()
    {
        var framer = new JsonStreamFramer(maxMessageBytes: 1024);
        var big = "{\"result\":\"" + new string('a', 4096) + "\"}";
        var ex = Assert.Throws<OvsdbProtocolException>(() => Feed(framer, Encoding.UTF8.GetBytes(big), 100));
        Assert.Contains("exceeds 1024 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Large_message_across_many_reads_grows_the_buffer()
    {
        var big = "{\"result\":[" + string.Join(',', Enumerable.Range(0, 50_000)) + "]}";
        var messages = Feed(new JsonStreamFramer(), Encoding.UTF8.GetBytes(big + Echo), 4000);
        Assert.Equal([big, Echo], messages);
    }
}
