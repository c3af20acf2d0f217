using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using NativeCert.Data;

namespace NativeCert.Defenses;

/// <summary>
/// Content identity of training rows: a row's hash is the first 8 bytes (little-endian) of SHA-256 over its features'
/// float32 bits, so it depends on the features alone, never on the label or the row's position. DPA's partition and
/// every canonical order derive from it.
/// </summary>
internal static class RowHash
{
    /// <summary>The hash of row <paramref name="row"/>'s features.</summary>
    public static ulong Of(ReadOnlySpan<float> row)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(MemoryMarshal.AsBytes(row), digest);
        return BinaryPrimitives.ReadUInt64LittleEndian(digest);
    }

    /// <summary>Hashes of every training row.</summary>
    public static ulong[] All(Dataset data)
    {
        var hashes = new ulong[data.Count];
        Parallel.For(0, data.Count, i => hashes[i] = Of(data.Row(i)));
        return hashes;
    }

    /// <summary>Partition of a row with this hash among <paramref name="partitions"/>: ⌊hash · k / 2⁶⁴⌋ (multiply–shift, uniform).</summary>
    public static int Partition(ulong hash, int partitions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        return (int)(((UInt128)hash * (ulong)partitions) >> 64);
    }

    /// <summary>
    /// Total order on row contents: hash, then the features' float32 bit patterns in feature order (as unsigned
    /// integers), then the label. Rows that compare equal are identical, so any sort by it is a function of the
    /// multiset of rows alone.
    /// </summary>
    public static int Compare(Dataset data, ulong[] hashes, int a, int b)
    {
        if (a == b) return 0;
        int c = hashes[a].CompareTo(hashes[b]);
        if (c != 0) return c;
        ReadOnlySpan<uint> x = MemoryMarshal.Cast<float, uint>(data.Row(a)), y = MemoryMarshal.Cast<float, uint>(data.Row(b));
        c = x.SequenceCompareTo(y);
        return c != 0 ? c : data.Labels[a].CompareTo(data.Labels[b]);
    }

    /// <summary>Every row index, sorted by <see cref="Compare"/>: the order of the rows as a multiset.</summary>
    public static int[] ContentOrder(Dataset data)
    {
        var hashes = All(data);
        int[] order = Enumerable.Range(0, data.Count).ToArray();
        Array.Sort(order, (a, b) => Compare(data, hashes, a, b));
        return order;
    }
}
