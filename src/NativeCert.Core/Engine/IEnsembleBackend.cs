using NativeCert.Data;

namespace NativeCert.Engine;

/// <summary>
/// Trains noisy models and collects their votes. Every backend implements the same per-model semantics
/// (docs/engine.md), so model m's votes depend only on (config, m, data) and, beyond float rounding,
/// not on the backend, the thread count, or which other models run in the same call.
/// </summary>
internal interface IEnsembleBackend : IDisposable
{
    /// <summary>Backend name as in <see cref="Runs.RunExecution.Backend"/>: cpu, cuda, ilgpu-cpu.</summary>
    string Name { get; }

    /// <summary>Human-readable device, e.g. "AMD EPYC 9R14 (2 threads, AVX-512)".</summary>
    string Device { get; }

    /// <summary>
    /// How many models the backend trains at the same time (the CPU engine: one per thread). Automatically sized
    /// chunks are a multiple of it, so a chunk never leaves part of the machine idle; results do not depend on it.
    /// </summary>
    int ModelsInParallel => 1;

    /// <summary>
    /// Trains models <c>[modelStart, modelEnd)</c>, each on <paramref name="train"/> plus its own Gaussian
    /// noise of std <c>config.Sigma</c>, and adds each model's vote on every row of <paramref name="inputs"/>
    /// (plus that model's one test-noise draw per row) into <paramref name="votes"/> <c>(inputs.Count, classes)</c>.
    /// </summary>
    void Run(EnsembleConfig config, Dataset train, Dataset inputs, int modelStart, int modelEnd,
             VoteCounts votes, IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default);

    /// <summary>
    /// Opens a session for one run of up to <paramref name="models"/> models: the backend uploads the data, compiles
    /// and allocates once, then runs each chunk with <see cref="IEnsembleSession.Run"/>. The default session makes each
    /// chunk one <see cref="Run"/> call and cannot hand back trained models.
    /// </summary>
    IEnsembleSession Open(EnsembleConfig config, Dataset train, Dataset inputs, int models) => new PerCallSession(this, config, train, inputs);

    private sealed class PerCallSession(IEnsembleBackend backend, EnsembleConfig config, Dataset train, Dataset inputs) : IEnsembleSession
    {
        public void Run(int modelStart, int modelEnd, VoteCounts votes, IModelSink? models = null,
                        IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
        {
            if (models is not null) throw new NotSupportedException($"backend {backend.Name} cannot hand back trained models");
            backend.Run(config, train, inputs, modelStart, modelEnd, votes, progress, cancellation);
        }

        public void Dispose() { }
    }
}

/// <summary>One run on a backend: its data, kernels and buffers set up once, then any number of chunks.</summary>
internal interface IEnsembleSession : IDisposable
{
    /// <summary>
    /// <see cref="IEnsembleBackend.Run"/> for models <c>[modelStart, modelEnd)</c> of the session's config and data;
    /// when <paramref name="models"/> is given, every trained model's parameters go to it before this returns.
    /// </summary>
    void Run(int modelStart, int modelEnd, VoteCounts votes, IModelSink? models = null,
             IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default);
}

/// <summary>
/// Receives trained models: model m's flat parameters (<see cref="ParameterLayout"/> order, valid only during the call).
/// May be called from several threads at once, each time for a different model.
/// </summary>
internal interface IModelSink
{
    void Accept(int model, ReadOnlySpan<float> parameters);
}

/// <summary>Collects models [start, start + count) into one <c>(count, P)</c> array, as <see cref="EnsembleFile"/> stores them.</summary>
internal sealed class ParameterArraySink(int start, int count, int parametersPerModel) : IModelSink
{
    /// <summary>Parameters <c>(count, P)</c>, row i = model start + i.</summary>
    public float[] Parameters { get; } = new float[(long)count * parametersPerModel];

    public void Accept(int model, ReadOnlySpan<float> parameters)
    {
        if (model < start || model >= start + count || parameters.Length != parametersPerModel)
            throw new ArgumentException($"model {model} with {parameters.Length} parameters is not one of [{start}, {start + count}) with {parametersPerModel}");
        parameters.CopyTo(Parameters.AsSpan((model - start) * parametersPerModel, parametersPerModel));
    }
}
