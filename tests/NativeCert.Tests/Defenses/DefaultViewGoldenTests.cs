using System.Runtime.InteropServices;
using System.Security.Cryptography;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Tests.Engine;

namespace NativeCert.Tests.Defenses;

/// <summary>
/// The default training view (every row, in the given order) must leave MLP votes byte-identical to the engine
/// before per-model views existed: the digests below were recorded with that engine (commit 6115cfc), and every
/// ISA level must still give them.
/// </summary>
public class DefaultViewGoldenTests
{
    private const string VotesDigest = "3d6d4fdfc6675755dd44248cb6ba2f664118716da19857cec65fffdc975b5877";
    private const string ParametersDigest = "e2c115f04abe5020b85332f34c599106ec732a2c19524039423fe16ccec77dd8";

    [Theory]
    [InlineData(IsaLevel.Avx512)]
    [InlineData(IsaLevel.Scalar)]
    public void DefaultViewVotesAndParametersAreByteIdenticalToTheEngineBeforeViews(IsaLevel isa)
    {
        var train = EngineTestData.Blobs(150, 24, 4, 11, spread: 1.1f);
        var test = EngineTestData.Blobs(60, 24, 4, 12, spread: 1.1f);
        var config = EngineTestData.Config(24, [16], 4, epochs: 3, batch: 32, sigma: 0.4f);
        var votes = new VoteCounts(test.Count, 4);
        var kept = new float[5 * new ParameterLayout(config.Shape).Count];
        using (var backend = new CpuEnsembleBackend(2, isa))
            backend.Run(config, train, test, 3, 8, votes, kept);
        Assert.Equal(VotesDigest, Digest(MemoryMarshal.AsBytes(votes.Counts.AsSpan())));
        Assert.Equal(ParametersDigest, Digest(MemoryMarshal.AsBytes(kept.AsSpan())));
    }

    private static string Digest(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
