using NativeCert.Engine.Cpu;

namespace NativeCert.Benchmarks;

/// <summary>
/// `-- exp-check [STRIDE]`: <see cref="CpuExp"/> against the platform's <see cref="MathF.Exp"/> and each vector level
/// against the scalar body, over every float (STRIDE 1, the default: all 2³², about a minute on 2 cores) or every
/// STRIDE-th bit pattern. Prints the mismatches (the first few of each kind) and exits 1 if there are any. On glibc
/// x86-64 with FMA every count is 0; elsewhere the MathF column counts how far the platform's libm differs.
/// </summary>
internal static class ExpCheck
{
    public static int Run(string[] args)
    {
        uint stride = args.Length > 0 ? uint.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 1;
        var levels = new[] { IsaLevel.Avx512, IsaLevel.Avx2 }.Where(l => CpuIsa.Clamp(l) == l).ToArray();
        const int Chunk = 1 << 16;
        long libm = 0, checkedCount = 0;
        var vector = new long[levels.Length];
        var gate = new object();
        var started = System.Diagnostics.Stopwatch.StartNew();
        int chunks = (int)((1L << 32) / ((long)Chunk * stride)) + 1;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, () => (new float[Chunk], new float[Chunk], new long[levels.Length + 2]),
            (chunk, _, state) =>
            {
                var (x, y, counts) = state;
                int n = 0;
                for (long u = (long)chunk * Chunk * stride; n < Chunk && u <= uint.MaxValue; u += stride) x[n++] = BitConverter.UInt32BitsToSingle((uint)u);
                for (int i = 0; i < n; i++)
                {
                    uint mine = BitConverter.SingleToUInt32Bits(CpuExp.Exp(x[i])), theirs = BitConverter.SingleToUInt32Bits(MathF.Exp(x[i]));
                    if (mine != theirs && !(float.IsNaN(CpuExp.Exp(x[i])) && float.IsNaN(MathF.Exp(x[i]))))
                    {
                        if (Interlocked.Increment(ref libm) <= 5) Console.WriteLine($"  MathF.Exp({x[i]:R}) = {MathF.Exp(x[i]):R}, CpuExp.Exp = {CpuExp.Exp(x[i]):R}");
                    }
                }
                for (int l = 0; l < levels.Length; l++)
                {
                    x.AsSpan(0, n).CopyTo(y);
                    CpuExp.ExpInPlace(y.AsSpan(0, n), levels[l]);
                    for (int i = 0; i < n; i++)
                        if (BitConverter.SingleToUInt32Bits(y[i]) != BitConverter.SingleToUInt32Bits(CpuExp.Exp(x[i])) && counts[l]++ < 5)
                            Console.WriteLine($"  {CpuIsa.Name(levels[l])} exp({x[i]:R}) = {y[i]:R}, scalar {CpuExp.Exp(x[i]):R}");
                }
                counts[^1] += n;
                return state;
            },
            state => { lock (gate) { for (int l = 0; l < levels.Length; l++) vector[l] += state.Item3[l]; checkedCount += state.Item3[^1]; } });
        Console.WriteLine($"exp over {checkedCount:N0} floats (bit patterns a stride of {stride} apart), {started.Elapsed.TotalSeconds:F0} s: " +
            $"{libm} differ from MathF.Exp; " + string.Join(", ", levels.Select((l, i) => $"{CpuIsa.Name(l)} {vector[i]} differ from the scalar body")));
        return libm == 0 && vector.All(v => v == 0) ? 0 : 1;
    }
}
