using System.Diagnostics;
using NativeCert.Data;
using NativeCert.Engine;

namespace NativeCert.Runs;

/// <summary>
/// Runs an ensemble in chunks of models and makes each chunk durable before the next starts: after chunk
/// <c>[a, b)</c> its votes are added and <c>votes.bin</c> is rewritten atomically (temp, fsync, rename) with
/// <c>ModelsDone = b</c>. A process killed at any moment therefore leaves the votes of the last complete
/// chunk, and resuming runs exactly the missing models; since model m's votes depend only on
/// (config, m, data), the resumed counts equal those of an uninterrupted run.
/// </summary>
internal static class ChunkedEnsembleRun
{
    /// <summary>Chunk size used first when sizing chunks automatically.</summary>
    public const int AutoFirstChunk = 8;
    /// <summary>Wall time one automatically sized chunk aims at: a kill loses at most about this much work.</summary>
    public static readonly TimeSpan AutoChunkTarget = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Trains and votes models <c>[votes.ModelsDone, modelEnd)</c> in one session of <paramref name="backend"/>, writing
    /// <paramref name="votesPath"/> after every chunk. <paramref name="chunkSize"/> &gt; 0 fixes the models per
    /// chunk; 0 sizes chunks so each takes about <paramref name="chunkTarget"/> (default <see cref="AutoChunkTarget"/>), in multiples of
    /// <see cref="IEnsembleBackend.ModelsInParallel"/>. Chunks never straddle the
    /// selection/estimation boundary (Cohen's n0). Cancellation is honoured between and (by the backend) within chunks;
    /// the votes on disk then hold the last complete chunk.
    /// </summary>
    public static void Run(IEnsembleBackend backend, EnsembleConfig config, Dataset train, Dataset inputs,
                           VoteFile votes, int modelEnd, int chunkSize, string votesPath,
                           ProgressReporter? progress = null, CancellationToken cancellation = default, TimeSpan? chunkTarget = null)
    {
        TimeSpan target = chunkTarget ?? AutoChunkTarget;
        ArgumentOutOfRangeException.ThrowIfNegative(chunkSize);
        if (inputs.Count != votes.Inputs) throw new ArgumentException($"{inputs.Count} inputs but the vote file has {votes.Inputs}");
        if (votes.ModelsDone > modelEnd)
            throw new UserInputException($"smoothing.models: the run already has models up to {votes.ModelsDone}, more than the {modelEnd} asked for");
        // Automatic chunks are a multiple of the models the backend trains at once: sizing them by time alone gave
        // LeNet (≈ 9 s per model on a thread) chunks of one model, and the second CPU thread sat idle.
        int parallel = Math.Max(1, backend.ModelsInParallel);
        int size = chunkSize > 0 ? chunkSize : RoundUp(AutoFirstChunk, parallel);
        if (votes.ModelsDone == modelEnd) return;
        // One session for the whole run: a GPU backend uploads the data and allocates once, not per chunk.
        using var session = backend.Open(config, train, inputs, modelEnd - votes.ModelsDone);
        while (votes.ModelsDone < modelEnd)
        {
            cancellation.ThrowIfCancellationRequested();
            int start = votes.ModelsDone;
            int end = (int)Math.Min(modelEnd, (long)start + size);
            if (start < votes.SelectionModels) end = Math.Min(end, votes.SelectionModels);

            var chunkVotes = new VoteCounts(votes.Inputs, votes.Classes);
            var reporter = progress is null ? null : new ChunkProgress(progress, start);
            var clock = Stopwatch.StartNew();
            session.Run(start, end, chunkVotes, null, reporter, cancellation);
            cancellation.ThrowIfCancellationRequested();
            CheckChunk(chunkVotes, end - start, backend.Name);
            votes.AddChunk(start, end, chunkVotes);
            votes.Write(votesPath);
            progress?.Report(end);

            if (chunkSize == 0)
            {
                double perModel = clock.Elapsed.TotalSeconds / (end - start);
                size = RoundUp(perModel <= 0 ? size * 2 : (int)Math.Clamp(target.TotalSeconds / perModel, 1, Math.Max(1, size * 4L)), parallel);
            }
        }
    }

    private static int RoundUp(int size, int multiple) => (int)Math.Min(int.MaxValue / 2, ((long)size + multiple - 1) / multiple * multiple);

    // A backend that skipped or double-counted a model would silently corrupt every certificate.
    private static void CheckChunk(VoteCounts chunk, int models, string backend)
    {
        for (int t = 0; t < chunk.Inputs; t++)
            if (chunk.Total(t) != models)
                throw new InvalidOperationException($"backend {backend} returned {chunk.Total(t)} votes for input {t} from a chunk of {models} models");
    }

    private sealed class ChunkProgress(ProgressReporter progress, int chunkStart) : IProgress<EnsembleProgress>
    {
        public void Report(EnsembleProgress value) => progress.Report(chunkStart + value.ModelsDone);
    }
}
