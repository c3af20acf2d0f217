using NativeCert.Data;
using NativeCert.Engine;

namespace NativeCert.Tests.Runs;

/// <summary>
/// Test double: model m's vote on input t is a deterministic hash of (seed, m, t, σ), biased towards the
/// input's label, so counts depend only on (config, m, data) exactly as the engine contract requires.
/// </summary>
internal sealed class FakeEnsembleBackend : IEnsembleBackend
{
    public string Name => "fake";
    public string Device => "test double";
    public int Calls { get; private set; }
    public List<(int Start, int End)> Ranges { get; } = [];

    public void Run(EnsembleConfig config, Dataset train, Dataset inputs, int modelStart, int modelEnd,
                    VoteCounts votes, IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
    {
        Calls++;
        Ranges.Add((modelStart, modelEnd));
        for (int m = modelStart; m < modelEnd; m++)
        {
            cancellation.ThrowIfCancellationRequested();
            for (int t = 0; t < inputs.Count; t++) votes[t, Vote(config, m, t, inputs.Labels[t], votes.Classes)]++;
            progress?.Report(new EnsembleProgress(m - modelStart + 1, modelEnd - modelStart));
        }
    }

    public static int Vote(EnsembleConfig config, int m, int t, int label, int classes)
    {
        ulong h = config.Seed * 0x9E3779B97F4A7C15UL ^ (ulong)m * 0xBF58476D1CE4E5B9UL ^ (ulong)t * 0x94D049BB133111EBUL
                  ^ BitConverter.SingleToUInt32Bits(config.Sigma);
        h ^= h >> 31; h *= 0xD6E8FEB86659FD87UL; h ^= h >> 29;
        // Mostly the label: 3/4 of the votes when σ is small, fewer as σ grows.
        double keep = Math.Max(0.3, 0.9 - config.Sigma * 0.3);
        return (h % 1000) / 1000.0 < keep ? label : (int)((h >> 20) % (ulong)classes);
    }

    public void Dispose() { }
}
