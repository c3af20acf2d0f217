using System.Globalization;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// The sizes of one model that a CPU workspace scales with, in elements (4 bytes each), summed over its layers
/// (<see cref="CpuTrainer.Plan"/>); <see cref="CpuMemoryPlan"/> needs nothing else.
/// </summary>
/// <param name="Parameters">Floats in the one flat parameter buffer (weights and biases of every layer).</param>
/// <param name="ActivationsPerRow">Floats per batch row of every layer's activations (input included), of
/// their gradients (input excluded), and of the im2col columns of the largest convolution.</param>
/// <param name="ScratchFloats">Floats of per-model scratch independent of the batch (the transposed weight of the
/// largest layer, used by the backward pass).</param>
/// <param name="LargestRowWidth">Widest layer boundary: the largest activation buffer is batch × this.</param>
/// <param name="ModelField">The spec field that sets the model, named when it does not fit: <c>model.hidden</c> for an MLP, else <c>model.layers</c>.</param>
internal readonly record struct ModelFootprint(long Parameters, long ActivationsPerRow, long ScratchFloats, long LargestRowWidth,
                                             string ModelField = "model.hidden")
{
    /// <summary>Most floats one flat buffer holds (its offsets are 32-bit, docs/engine.md).</summary>
    public const long MaxFlatFloats = int.MaxValue;

    /// <summary>
    /// The footprint of <paramref name="model"/> as <see cref="CpuTrainer"/> lays out its workspace (activation buffers
    /// of the layers that are not in place and their gradients, the im2col columns of the largest convolution per row,
    /// the transposed weight of the largest dense layer), in 64 bits so that nothing overflows; a model whose parameters
    /// do not fit one flat buffer is a <see cref="Spec.SpecException"/> naming <c>model.hidden</c> for an MLP, else <c>model.layers</c>.
    /// </summary>
    public static ModelFootprint Of(ModelArchitecture model)
    {
        string field = model.IsMlp ? "model.hidden" : "model.layers";
        long parameters = 0;
        foreach (var layer in model.Layers)
            if (layer.Spec.HasParameters) parameters += (long)layer.FanIn * layer.Units + layer.Units;
        if (parameters > MaxFlatFloats)
            throw new Spec.SpecException(string.Create(CultureInfo.InvariantCulture,
                $"{field}: model {model} has {parameters:N0} parameters, more than one flat buffer holds ({MaxFlatFloats:N0} floats); use smaller layers"), field);
        var plan = CpuTrainer.Plan(model, new ParameterLayout(model));
        long activations = plan.BufferSizes[0] + 2 * plan.BufferSizes.Skip(1).Sum(w => (long)w) + plan.ColumnsPerRow;
        long widest = Math.Max(plan.BufferSizes.Max(), plan.ColumnsPerRow);
        return new ModelFootprint(parameters, activations, plan.MaxDenseWeight, widest, field);
    }
}

/// <summary>
/// Memory the CPU engine allocates, in bytes, computed before it allocates anything. Each worker thread owns one
/// <see cref="CpuTrainer"/> workspace:
/// <code>
/// per thread = 4·( 3P                      parameters, gradients, momentum      (P) each
///                + B·(Σ_a s_a + Σ_{a≥1} s_a)   activations and their gradients   (B, s_a)
///                + B·max_conv k·k·C_in·OH·OW   im2col columns                (k·k·C_in, B·OH·OW)
///                + max_dense in·out        transposed weight scratch
///                + 2B                      batch labels and losses               (B)
///                + 2B                      the batch's row offsets in the copy   (B, 8 bytes each)
///                + P − C                   He-init Gaussians, drawn per model    (P − C)       when training
///                + n·D + n                 noisy training copy, permutation      (n, D), (n)   when training
///                + T·C )                   the thread's vote counts              (T, C)        when voting
/// shared     = 4·models·P                  kept parameters (train, keep_models)
/// total      = threads·per thread + shared,   threads = min(threads or all cores, models)
/// s_a: the per-row size of each activation buffer (the input, then each layer that is not in place; CpuTrainer.Plan)
/// </code>
/// and must fit in 90% of the memory available now (<see cref="AvailableMemory"/>): the data are already loaded,
/// and the rest is left to the runtime. Refusing here, with the option to change, replaces an OOM kill that can
/// take other jobs with it.
/// </summary>
internal sealed record CpuMemoryPlan(ModelFootprint Model, int Threads, long ModelBytesPerThread, long TrainingBytesPerThread,
                                   long VoteBytesPerThread, long SharedBytes, long LargestBufferFloats)
{
    /// <summary>Fraction of the available memory a plan may use.</summary>
    public const double UsableFraction = 0.9;

    /// <summary>Bytes one worker thread allocates.</summary>
    public long BytesPerThread => ModelBytesPerThread + TrainingBytesPerThread + VoteBytesPerThread;
    /// <summary>Bytes the whole call allocates.</summary>
    public long TotalBytes => Threads * BytesPerThread + SharedBytes;

    /// <summary>
    /// The plan of training (<paramref name="trainRows"/> &gt; 0) and/or voting (<paramref name="inputRows"/> &gt; 0)
    /// <paramref name="models"/> models of <paramref name="config"/> on <paramref name="threads"/> threads (≤ 0: all
    /// cores), keeping every model's parameters when <paramref name="keepParameters"/>.
    /// </summary>
    public static CpuMemoryPlan Create(EnsembleConfig config, int trainRows, int inputRows, int threads, int models, bool keepParameters = false)
    {
        var model = ModelFootprint.Of(config.Model);
        long batch = config.Training.BatchSize;
        int workers = (int)Math.Max(1, Math.Min(threads > 0 ? threads : Environment.ProcessorCount, Math.Max(1, models)));
        long modelFloats = 3 * model.Parameters + batch * model.ActivationsPerRow + model.ScratchFloats + 2 * batch + 2 * batch;
        long copyFloats = trainRows > 0 ? (long)trainRows * config.Model.InputSize + trainRows : 0;
        long initFloats = trainRows > 0 ? model.Parameters - config.Model.Classes : 0;
        modelFloats += initFloats;
        long voteFloats = (long)inputRows * config.Model.Classes;
        long shared = keepParameters ? 4L * models * model.Parameters : 0;
        long largest = Math.Max(Math.Max(model.Parameters, model.ScratchFloats), Math.Max(batch * model.LargestRowWidth, copyFloats));
        return new CpuMemoryPlan(model, workers, 4 * modelFloats, 4 * copyFloats, 4 * voteFloats, shared, largest);
    }

    /// <summary>Creates the plan and checks it against the memory available now; see <see cref="EnsureFits"/>.</summary>
    public static CpuMemoryPlan CheckFits(EnsembleConfig config, int trainRows, int inputRows, int threads, int models, bool keepParameters = false)
    {
        var plan = Create(config, trainRows, inputRows, threads, models, keepParameters);
        plan.EnsureFits(AvailableMemory.Read());
        return plan;
    }

    /// <summary>
    /// Throws a one-line <see cref="UserInputException"/> naming the option to change and the bytes needed vs
    /// available when the plan does not fit in <see cref="UsableFraction"/> of <paramref name="available"/>, or a
    /// single buffer would exceed the largest .NET array.
    /// </summary>
    public void EnsureFits(AvailableMemory available)
    {
        if (LargestBufferFloats > Array.MaxLength)
            throw new Spec.SpecException(Inv($"training.batch_size: one buffer of {LargestBufferFloats:N0} floats (batch x widest layer, parameters or training copy) exceeds the largest array ({Array.MaxLength:N0}); use a smaller training.batch_size, {Model.ModelField} or data.train_size"),
                "training.batch_size", Model.ModelField, "data.train_size");
        long usable = (long)(UsableFraction * available.Bytes);
        if (TotalBytes <= usable) return;
        string needed = Inv($"the cpu engine needs {Bytes(TotalBytes)} ({Threads} thread{(Threads == 1 ? "" : "s")} x {Bytes(BytesPerThread)}: model buffers {Bytes(ModelBytesPerThread)}, noisy training copy {Bytes(TrainingBytesPerThread)}, votes {Bytes(VoteBytesPerThread)}{(SharedBytes > 0 ? $"; kept parameters {Bytes(SharedBytes)}" : "")})");
        string have = Inv($"{Bytes(usable)} usable ({UsableFraction * 100:F0}% of {Bytes(available.Bytes)} available, {available.Source})");
        long fittingThreads = BytesPerThread > 0 ? (usable - SharedBytes) / BytesPerThread : 0;
        if (Threads > 1 && fittingThreads >= 1)
            throw new Spec.SpecException(Inv($"execution.threads: {needed} but {have}; use execution.threads {fittingThreads} or fewer"), "execution.threads");
        // One thread does not fit: blame what dominates it.
        var (option, what) = ModelBytesPerThread >= Math.Max(TrainingBytesPerThread, Math.Max(VoteBytesPerThread, SharedBytes))
            ? (Model.ModelField, $"smaller {(Model.ModelField == "model.hidden" ? "hidden " : "")}layers (model {Model.Parameters:N0} parameters)")
            : TrainingBytesPerThread >= Math.Max(VoteBytesPerThread, SharedBytes) ? ("data.train_size", "fewer training rows")
            : VoteBytesPerThread >= SharedBytes ? ("data.test_size", "fewer inputs")
            : ("smoothing.models", "fewer models per file");
        throw new Spec.SpecException(Inv($"{option}: {needed} but {have}; use {what}"), option);
    }

    private static string Bytes(long bytes) => bytes >= 1L << 30 ? Inv($"{bytes / (double)(1L << 30):F1} GiB") : Inv($"{bytes / (double)(1L << 20):F1} MiB");
    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Memory this process can still allocate, in bytes: the smaller of the kernel's MemAvailable and what the cgroup
/// memory limit leaves (limit − usage + reclaimable inactive page cache), on Linux; the runtime's view elsewhere.
/// </summary>
/// <param name="Bytes">Bytes available.</param>
/// <param name="Source">Where the figure came from, for messages (e.g. "MemAvailable" or "cgroup memory.max").</param>
internal readonly record struct AvailableMemory(long Bytes, string Source)
{
    public static AvailableMemory Read()
    {
        var best = new AvailableMemory(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, "runtime");
        if (!OperatingSystem.IsLinux()) return best;
        if (MemInfoAvailable() is { } mem) best = new AvailableMemory(mem, "MemAvailable");
        if (CgroupAvailable() is { } cgroup && cgroup.Bytes < best.Bytes) best = cgroup;
        return best;
    }

    private static long? MemInfoAvailable()
    {
        foreach (string line in ReadLines("/proc/meminfo"))
            if (line.StartsWith("MemAvailable:", StringComparison.Ordinal)
                && long.TryParse(line["MemAvailable:".Length..].Replace("kB", "").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long kb))
                return kb * 1024;
        return null;
    }

    /// <summary>cgroup v2 (the process's own group, then the root mount), else v1; null when unlimited or unknown.</summary>
    private static AvailableMemory? CgroupAvailable()
    {
        string? group = ReadLines("/proc/self/cgroup").FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal))?[3..];
        string[] dirs = group is null ? ["/sys/fs/cgroup"] : ["/sys/fs/cgroup" + group, "/sys/fs/cgroup"];
        foreach (string dir in dirs)
        {
            if (ReadLong(Path.Combine(dir, "memory.max")) is { } max && ReadLong(Path.Combine(dir, "memory.current")) is { } current)
                return new AvailableMemory(Math.Max(0, max - current + StatField(Path.Combine(dir, "memory.stat"), "inactive_file")), "cgroup memory.max");
        }
        const string v1 = "/sys/fs/cgroup/memory";
        if (ReadLong(Path.Combine(v1, "memory.limit_in_bytes")) is { } limit && limit < 1L << 60
            && ReadLong(Path.Combine(v1, "memory.usage_in_bytes")) is { } usage)
            return new AvailableMemory(Math.Max(0, limit - usage + StatField(Path.Combine(v1, "memory.stat"), "total_inactive_file")), "cgroup memory.limit_in_bytes");
        return null;
    }

    /// <summary>The number in a one-value file; null for "max", a missing file, or anything else.</summary>
    private static long? ReadLong(string path) =>
        ReadLines(path).FirstOrDefault() is { } text && long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : null;

    private static long StatField(string path, string key)
    {
        foreach (string line in ReadLines(path))
        {
            var parts = line.Split(' ');
            if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long v)) return v;
        }
        return 0;
    }

    private static string[] ReadLines(string path)
    {
        try { return File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }
}
