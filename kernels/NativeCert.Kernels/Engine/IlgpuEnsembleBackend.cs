using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Spec;

namespace NativeCert.Kernels.Engine;

/// <summary>
/// The ensemble on an ILGPU accelerator: kernels compile once per backend; a session (<see cref="Open"/>) uploads the
/// data and allocates once per run; models train in lockstep groups sized from device memory
/// (<see cref="EnsembleMemoryPlan"/>), every group runs the full training and voting with batched kernels, and votes
/// accumulate on the device until the chunk ends. <c>cuda</c> runs on the first CUDA GPU; <c>ilgpu-cpu</c> runs the same kernels on ILGPU's
/// CPU accelerator (slow; for tests and for proving the kernels without a GPU).
/// </summary>
internal sealed class IlgpuEnsembleBackend : IEnsembleBackend
{
    public const string CudaName = "cuda", CpuAcceleratorName = "ilgpu-cpu";
    /// <summary>The field a backend error names (<see cref="SpecException"/>; the CLI shows it as its flag).</summary>
    internal const string BackendField = "execution.backend";
    /// <summary>How a CUDA start failure ends: what to do instead.</summary>
    internal const string CpuHint = "; use " + BackendField + " cpu or auto";

    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly KernelSet _kernels;
    private readonly int? _maxModelsPerChunk;
    private readonly TextWriter? _log;

    public string Name { get; }
    public string Device { get; }
    /// <summary>FP32 (non-tensor) peak of the device in GFLOP/s; 0 on the CPU accelerator.</summary>
    public double PeakFp32Gflops => IlgpuDevices.PeakFp32Gflops(_accelerator);

    private IlgpuEnsembleBackend(string name, Context context, Accelerator accelerator, int? maxModelsPerChunk, TextWriter? log)
    {
        Name = name;
        _context = context;
        _accelerator = accelerator;
        _maxModelsPerChunk = maxModelsPerChunk;
        _log = log;
        Device = accelerator.AcceleratorType == AcceleratorType.Cuda
            ? $"{accelerator.Name} ({accelerator.NumMultiprocessors} SMs, {accelerator.MemorySize / 1048576} MiB)"
            : $"ILGPU CPU accelerator ({accelerator.MaxNumThreadsPerGroup} threads per group)";
        _kernels = new KernelSet(accelerator);
    }

    /// <summary>
    /// The first CUDA GPU. Throws <see cref="UserInputException"/> with one line saying why when there is no driver
    /// library, the driver reports no device or fails to start, or ILGPU cannot start the device.
    /// </summary>
    /// <param name="maxModelsPerChunk">Upper bound on models trained at once (default: as many as memory allows).</param>
    public static IlgpuEnsembleBackend CreateCuda(int? maxModelsPerChunk = null, TextWriter? log = null) =>
        CreateCuda(CudaDriver.Probe(), maxModelsPerChunk, log);

    /// <summary><see cref="CreateCuda(int?, TextWriter?)"/> after a probe already made.</summary>
    public static IlgpuEnsembleBackend CreateCuda(CudaProbe probe, int? maxModelsPerChunk = null, TextWriter? log = null)
    {
        if (!probe.Usable)
            throw new SpecException($"{BackendField} cuda: {probe.Failure ?? "no CUDA device"}" + CpuHint, BackendField);
        Context? context = null;
        Accelerator? accelerator = null;
        try
        {
            context = IlgpuDevices.CreateCudaContext();
            var devices = context.GetCudaDevices();
            if (devices.Count == 0)
                throw new SpecException($"{BackendField} cuda: ILGPU found no CUDA device although the driver ({probe.LibraryPath}) " +
                                        $"reports {probe.DeviceCount}" + CpuHint, BackendField);
            accelerator = devices[0].CreateAccelerator(context);
            log?.WriteLine($"cuda: driver {probe.LibraryPath} (CUDA {CudaDriver.FormatVersion(probe.DriverVersion)}), {probe.DeviceCount} device(s)");
            return new IlgpuEnsembleBackend(CudaName, context, accelerator, maxModelsPerChunk, log);
        }
        catch (UserInputException)
        {
            accelerator?.Dispose();
            context?.Dispose();
            throw;
        }
        catch (Exception e)
        {
            accelerator?.Dispose();
            context?.Dispose();
            throw new SpecException($"{BackendField} cuda: ILGPU could not start the CUDA device: {e.GetType().Name}: {FirstLine(e.Message)}", e, BackendField);
        }
    }

    /// <summary>ILGPU's CPU accelerator with 256-thread groups (see <see cref="IlgpuDevices.CpuDevice"/>).</summary>
    public static IlgpuEnsembleBackend CreateCpuAccelerator(int? maxModelsPerChunk = null, TextWriter? log = null)
    {
        var context = IlgpuDevices.CreateCpuContext();
        try
        {
            var accelerator = IlgpuDevices.CpuDevice.CreateAccelerator(context);
            return new IlgpuEnsembleBackend(CpuAcceleratorName, context, accelerator, maxModelsPerChunk, log);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    public void Run(EnsembleConfig config, Dataset train, Dataset inputs, int modelStart, int modelEnd, VoteCounts votes,
                    IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
    {
        if (modelStart < 0 || modelEnd < modelStart) throw new ArgumentOutOfRangeException(nameof(modelEnd));
        if (modelEnd == modelStart) return;
        using var session = Open(config, train, inputs, modelEnd - modelStart);
        session.Run(modelStart, modelEnd, votes, null, progress, cancellation);
    }

    /// <summary>
    /// Plans device memory for up to <paramref name="models"/> models (<see cref="EnsembleMemoryPlan"/>), uploads the
    /// training set and inputs and allocates the lockstep buffers once; every <see cref="IEnsembleSession.Run"/> then
    /// trains its chunk in lockstep groups of the planned size, downloads its votes (and, for a sink, its models).
    /// </summary>
    public IEnsembleSession Open(EnsembleConfig config, Dataset train, Dataset inputs, int models)
    {
        if (train.Dimension != config.Model.InputSize || inputs.Dimension != config.Model.InputSize)
            throw new ArgumentException($"data have {train.Dimension} and {inputs.Dimension} features but the model takes {config.Model.InputSize}");
        if (train.ClassCount > config.Model.Classes)
            throw new ArgumentException($"{train.Source}: {train.ClassCount} classes but the model has {config.Model.Classes} outputs");
        if (train.Count == 0) throw new ArgumentException($"{train.Source}: no training rows");
        var view = config.View.Bind(train, config.Seed);
        if (!view.IsAllRows) return new ViewSession(this, config, view, train, inputs, models);
        int batch = Math.Max(1, Math.Min(config.Training.BatchSize, train.Count));
        var plan = EnsembleMemoryPlan.Create(config.Model, train.Count, inputs.Count, batch, Math.Max(1, models),
                                             IlgpuDevices.UsableMemoryBytes(_accelerator), _maxModelsPerChunk);
        _log?.WriteLine($"{Name}: {plan.ModelsPerChunk} models per chunk ({plan.BytesPerModel / 1048576.0:F2} MiB each, " +
                        $"{plan.SharedBytes / 1048576.0:F1} MiB shared, {plan.UsableBytes / 1048576} MiB usable)");
        return new Session(config, inputs, plan, AllocateTrainer(config, train, inputs, plan));
    }

    private sealed class Session(EnsembleConfig config, Dataset inputs, EnsembleMemoryPlan plan, LockstepTrainer trainer) : IEnsembleSession
    {
        public void Run(int modelStart, int modelEnd, VoteCounts votes, IModelSink? models = null,
                        IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
        {
            CheckRun(config, inputs, modelStart, modelEnd, votes);
            TrainGroups(config, trainer, plan.ModelsPerChunk, modelStart, modelEnd, votes, models, progress, cancellation, loadGroup: null);
        }

        public void Dispose() => trainer.Dispose();
    }

    private static void CheckRun(EnsembleConfig config, Dataset inputs, int modelStart, int modelEnd, VoteCounts votes)
    {
        if (votes.Inputs != inputs.Count || votes.Classes != config.Model.Classes)
            throw new ArgumentException($"vote counts are ({votes.Inputs}, {votes.Classes}) but the run has ({inputs.Count}, {config.Model.Classes})");
        if (modelStart < 0 || modelEnd < modelStart) throw new ArgumentOutOfRangeException(nameof(modelEnd));
    }

    /// <summary>
    /// Models [modelStart, modelEnd) in groups of <paramref name="groupSize"/>, one lockstep pass per group: (views only)
    /// load the group's rows, initialise, train every epoch, vote, hand the models to the sink; the votes are added to
    /// <paramref name="votes"/> at the end.
    /// </summary>
    private static void TrainGroups(EnsembleConfig config, LockstepTrainer trainer, int groupSize, int modelStart, int modelEnd,
                                    VoteCounts votes, IModelSink? models, IProgress<EnsembleProgress>? progress,
                                    CancellationToken cancellation, Action<int, int>? loadGroup)
    {
        int total = modelEnd - modelStart, done = 0, p = new ParameterLayout(config.Model).Count;
        for (int groupStart = modelStart; groupStart < modelEnd; groupStart += groupSize)
        {
            int group = Math.Min(groupSize, modelEnd - groupStart);
            loadGroup?.Invoke(groupStart, group);
            trainer.Initialize(groupStart, group);
            for (int epoch = 0; epoch < config.Training.Epochs; epoch++)
            {
                cancellation.ThrowIfCancellationRequested();
                trainer.TrainEpoch(groupStart, group, epoch);
            }
            trainer.Vote(groupStart, group);
            if (models is not null)
            {
                var parameters = trainer.DownloadParameters(group);
                for (int i = 0; i < group; i++) models.Accept(groupStart + i, parameters.AsSpan(i * p, p));
            }
            trainer.Synchronize();
            done += group;
            progress?.Report(new EnsembleProgress(done, total));
        }
        var counts = trainer.TakeVotes();
        for (int i = 0; i < counts.Length; i++) votes.Counts[i] = checked(votes.Counts[i] + counts[i]);
    }

    /// <summary>
    /// Per-model training views (DPA partitions, bags), trained in lockstep like the all-rows session: each run plans
    /// device memory for the most view rows any of its models has, allocates (or keeps, when the last run's trainer is big
    /// enough) one view trainer, and trains its models in groups of the planned size, each on its own rows
    /// (<see cref="LockstepTrainer.LoadViews"/>): model m's result is bit for bit what it would be trained alone.
    /// </summary>
    private sealed class ViewSession(IlgpuEnsembleBackend backend, EnsembleConfig config, NativeCert.Defenses.ModelRows view,
                                     Dataset train, Dataset inputs, int sessionModels) : IEnsembleSession
    {
        private LockstepTrainer? _trainer;
        private EnsembleMemoryPlan _plan;

        public void Run(int modelStart, int modelEnd, VoteCounts votes, IModelSink? models = null,
                        IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
        {
            CheckRun(config, inputs, modelStart, modelEnd, votes);
            if (modelEnd == modelStart) return;
            // The plan needs the largest view first; a view's rows are cheap to recompute (partitions are cached, a bag is k draws).
            int most = 0;
            for (int m = modelStart; m < modelEnd; m++) most = Math.Max(most, view.Of(m)!.Length);
            var trainer = TrainerFor(most);
            TrainGroups(config, trainer, _plan.ModelsPerChunk, modelStart, modelEnd, votes, models, progress, cancellation,
                loadGroup: (groupStart, group) =>
                {
                    var rows = new int[group][];
                    for (int i = 0; i < group; i++) rows[i] = view.Of(groupStart + i)!;
                    trainer.LoadViews(group, rows);
                });
        }

        // The last run's trainer when its views are wide enough, else a new plan (for the session's model count) and trainer
        // for views of up to `most` rows.
        private LockstepTrainer TrainerFor(int most)
        {
            if (_trainer?.ViewRowsPerModel is { } held && held >= Math.Max(1, most)) return _trainer;
            _trainer?.Dispose();
            _trainer = null;
            int batch = Math.Max(1, Math.Min(config.Training.BatchSize, Math.Max(1, most)));
            _plan = EnsembleMemoryPlan.Create(config.Model, train.Count, inputs.Count, batch, Math.Max(1, sessionModels),
                                              IlgpuDevices.UsableMemoryBytes(backend._accelerator), backend._maxModelsPerChunk, viewRowsPerModel: most);
            backend._log?.WriteLine($"{backend.Name}: training views of up to {most} rows, {_plan.ModelsPerChunk} models per chunk " +
                                    $"({_plan.BytesPerModel / 1048576.0:F2} MiB each, {_plan.SharedBytes / 1048576.0:F1} MiB shared, {_plan.UsableBytes / 1048576} MiB usable)");
            _trainer = backend.AllocateTrainer(config, train, inputs, _plan, viewRowsPerModel: most);
            return _trainer;
        }

        public void Dispose() => _trainer?.Dispose();
    }

    private LockstepTrainer AllocateTrainer(EnsembleConfig config, Dataset train, Dataset inputs, EnsembleMemoryPlan plan, int? viewRowsPerModel = null)
    {
        try
        {
            return new LockstepTrainer(_accelerator, _kernels, config, train, inputs, plan.ModelsPerChunk, viewRowsPerModel);
        }
        catch (Exception e) when (e is AcceleratorException or OutOfMemoryException)
        {
            // The plan left 10% of free memory spare; another process may have taken it since.
            throw new SpecException($"{BackendField} {Name}: could not allocate {plan.ModelsPerChunk} models per chunk " +
                $"({(plan.SharedBytes + plan.ModelsPerChunk * plan.BytesPerModel) / 1048576} MiB) on {_accelerator.Name}: {FirstLine(e.Message)}", e, BackendField);
        }
    }

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();

    public void Dispose()
    {
        _accelerator.Dispose();
        _context.Dispose();
    }
}
