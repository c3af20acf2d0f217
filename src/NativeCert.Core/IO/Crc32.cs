namespace NativeCert.IO;

/// <summary>
/// CRC-32 as used by PNG and zlib (ISO-HDLC: reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF).
/// Check value: CRC32("123456789") = 0xCBF43926.
/// </summary>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    /// <summary>Continues a running CRC (start with 0) over more bytes.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> bytes)
    {
        uint c = ~crc;
        foreach (byte b in bytes) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return ~c;
    }

    public static uint Compute(ReadOnlySpan<byte> bytes) => Append(0, bytes);
}
