using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.IO;

namespace NativeCert.Runs;

/// <summary>
/// For <c>--keep-models</c>: runs the CPU engine so that it also hands back each model's trained parameters,
/// and saves every call's models as one <see cref="EnsembleFile"/> <c>models/models-START-END.bin</c>
/// (atomically) before returning its votes. A chunk's models are thus on disk before votes.bin records the
/// chunk; a resumed run rewrites the file of a chunk it repeats with identical parameters.
/// </summary>
public sealed class ModelKeepingBackend(CpuEnsembleBackend inner, string modelsDirectory) : IEnsembleBackend
{
    public string Name => inner.Name;
    public string Device => inner.Device;

    /// <summary>File holding models [start, end).</summary>
    public static string FileName(int start, int end) => $"models-{start:D6}-{end:D6}.bin";

    public void Run(EnsembleConfig config, Dataset train, Dataset inputs, int modelStart, int modelEnd, VoteCounts votes,
                    IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
    {
        CpuMemoryPlan.CheckFits(config, train.Count, inputs.Count, inner.Threads, modelEnd - modelStart, keepParameters: true);
        var layout = new ParameterLayout(config.Model);
        var parameters = new float[(long)(modelEnd - modelStart) * layout.Count];
        var chunkVotes = new VoteCounts(votes.Inputs, votes.Classes);
        inner.Run(config, train, inputs, modelStart, modelEnd, chunkVotes, parameters, progress, cancellation);
        AtomicFile.CreateDirectory(modelsDirectory, "--keep-models");
        string path = Path.Combine(modelsDirectory, FileName(modelStart, modelEnd));
        try
        {
            new EnsembleFile(config, modelStart, modelEnd - modelStart, parameters).Save(path);
        }
        catch (UserInputException e)
        {
            throw new UserInputException($"--keep-models: {e.Message}", e); // already one line naming the file
        }
        votes.Add(chunkVotes);
    }

    public void Dispose() => inner.Dispose();
}
