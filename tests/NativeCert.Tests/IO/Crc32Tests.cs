using NativeCert.IO;

namespace NativeCert.Tests.IO;

public sealed class Crc32Tests
{
    [Fact]
    public void MatchesTheStandardCheckValue() =>
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8)); // the CRC-32/ISO-HDLC check value

    [Fact]
    public void AppendContinuesARunningCrc()
    {
        ReadOnlySpan<byte> bytes = "IHDR and the chunk data"u8;
        Assert.Equal(Crc32.Compute(bytes), Crc32.Append(Crc32.Compute(bytes[..4]), bytes[4..]));
        Assert.Equal(0u, Crc32.Compute([]));
    }
}
