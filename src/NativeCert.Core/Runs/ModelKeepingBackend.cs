using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.IO;

namespace NativeCert.Runs;

/// <summary>
/// For <see cref="RunExecution.KeepModels"/>: runs any backend with a model sink so that it also hands back each model's
/// trained parameters, and saves every chunk's models as one <see cref="EnsembleFile"/> <c>models/models-START-END.bin</c>
/// (atomically) before returning its votes. A chunk's models are thus on disk before votes.bin records the
/// chunk; a resumed run rewrites the file of a chunk it repeats with identical parameters.
/// </summary>
internal sealed class ModelKeepingBackend(IEnsembleBackend inner, string modelsDirectory) : IEnsembleBackend
{
    public string Name => inner.Name;
    public string Device => inner.Device;
    public int ModelsInParallel => inner.ModelsInParallel;

    /// <summary>File holding models [start, end).</summary>
    public static string FileName(int start, int end) => $"models-{start:D6}-{end:D6}.bin";

    public void Run(EnsembleConfig config, Dataset train, Dataset inputs, int modelStart, int modelEnd, VoteCounts votes,
                    IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
    {
        using var session = Open(config, train, inputs, modelEnd - modelStart);
        session.Run(modelStart, modelEnd, votes, null, progress, cancellation);
    }

    public IEnsembleSession Open(EnsembleConfig config, Dataset train, Dataset inputs, int models) =>
        new Session(this, config, train, inputs, inner.Open(config, train, inputs, models));

    private sealed class Session(ModelKeepingBackend owner, EnsembleConfig config, Dataset train, Dataset inputs, IEnsembleSession inner) : IEnsembleSession
    {
        public void Run(int modelStart, int modelEnd, VoteCounts votes, IModelSink? models = null,
                        IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
        {
            if (owner.Inner is CpuEnsembleBackend cpu)
                CpuMemoryPlan.CheckFits(config, train.Count, inputs.Count, cpu.Threads, modelEnd - modelStart, keepParameters: true);
            var kept = new ParameterArraySink(modelStart, modelEnd - modelStart, new ParameterLayout(config.Model).Count);
            var chunkVotes = new VoteCounts(votes.Inputs, votes.Classes);
            inner.Run(modelStart, modelEnd, chunkVotes, models is null ? kept : new BothSinks(kept, models), progress, cancellation);
            AtomicFile.CreateDirectory(owner.ModelsDirectory, "models directory");
            string path = Path.Combine(owner.ModelsDirectory, FileName(modelStart, modelEnd));
            try
            {
                new EnsembleFile(config, modelStart, modelEnd - modelStart, kept.Parameters).Save(path);
            }
            catch (UserInputException e)
            {
                throw new UserInputException($"keeping the trained models: {e.Message}", e); // already one line naming the file
            }
            votes.Add(chunkVotes);
        }

        public void Dispose() => inner.Dispose();
    }

    private sealed class BothSinks(IModelSink first, IModelSink second) : IModelSink
    {
        public void Accept(int model, ReadOnlySpan<float> parameters)
        {
            first.Accept(model, parameters);
            second.Accept(model, parameters);
        }
    }

    private IEnsembleBackend Inner => inner;
    private string ModelsDirectory => modelsDirectory;

    public void Dispose() => inner.Dispose();
}
