using NativeCert.Data;

namespace NativeCert.Engine;

/// <summary>
/// Trains noisy models and collects their votes. Every backend implements the same per-model semantics
/// (docs/engine.md), so model m's votes depend only on (config, m, data) and, beyond float rounding,
/// not on the backend, the thread count, or which other models run in the same call.
/// </summary>
public interface IEnsembleBackend : IDisposable
{
    /// <summary>Backend name as in <see cref="Runs.RunExecution.Backend"/>: cpu, cuda, ilgpu-cpu.</summary>
    string Name { get; }

    /// <summary>Human-readable device, e.g. "AMD EPYC 9R14 (2 threads, AVX-512)".</summary>
    string Device { get; }

    /// <summary>
    /// Trains models <c>[modelStart, modelEnd)</c>, each on <paramref name="train"/> plus its own Gaussian
    /// noise of std <c>config.Sigma</c>, and adds each model's vote on every row of <paramref name="inputs"/>
    /// (plus that model's one test-noise draw per row) into <paramref name="votes"/> <c>(inputs.Count, classes)</c>.
    /// </summary>
    void Run(EnsembleConfig config, Dataset train, Dataset inputs, int modelStart, int modelEnd,
             VoteCounts votes, IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default);
}
