using System.Runtime.InteropServices;
using System.Security.Cryptography;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;

namespace NativeCert.Tests.Engine;

/// <summary>
/// The check behind the regression pins (<see cref="MlpRegressionTests"/>, <see cref="LayerListRegressionTests"/>):
/// trains and votes an ensemble on every SIMD level, with one and three threads, the model range split in two, and
/// compares the SHA-256 of the summed votes and of the kept weights with the pinned ones.
/// </summary>
internal static class RegressionPins
{
    public static void AssertUnchanged(string name, EnsembleConfig config, Dataset train, Dataset test, int models, string votesSha256, string weightsSha256)
    {
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        {
            foreach (int threads in new[] { 1, 3 })
            {
                int split = models / 2;
                var (votes, weights) = EngineTestData.RunCpu(config, train, test, isa, threads, (0, split), (split, models));
                string where = $"{name}, {CpuIsa.Name(isa)}, {threads} threads";
                string gotVotes = Sha256(MemoryMarshal.AsBytes(votes.AsSpan())), gotWeights = Sha256(MemoryMarshal.AsBytes(weights.AsSpan()));
                Assert.True(votesSha256 == gotVotes, $"{where}: votes {gotVotes}");
                Assert.True(weightsSha256 == gotWeights, $"{where}: weights {gotWeights}");
            }
        }
    }

    private static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
