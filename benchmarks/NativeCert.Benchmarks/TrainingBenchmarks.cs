using BenchmarkDotNet.Attributes;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;

namespace NativeCert.Benchmarks;

/// <summary>
/// One model trained for one epoch on 8,000 rows (784-128-10, batch 128, σ = 0.25), single thread: noise drawing
/// for the whole training set + He init + 63 SGD steps. model-epochs/s = 1 / mean. Phases: <see cref="PhaseBenchmarks"/>.
/// `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- --filter '*Training*'`
/// </summary>
[ShortRunJob]
public class TrainingBenchmarks
{
    private Dataset _train = null!;
    private CpuTrainer _trainer = null!;

    // By name: BenchmarkDotNet's generated project cannot see the engine's internal IsaLevel.
    [Params(nameof(IsaLevel.Avx512), nameof(IsaLevel.Avx2))]
    public string Isa { get; set; } = "";
    private IsaLevel Level => Enum.Parse<IsaLevel>(Isa);

    [GlobalSetup]
    public void Setup()
    {
        try { _train = DatasetCatalog.Load(DatasetCatalog.DefaultSpec).Train; }
        catch (UserInputException) { _train = EnsembleBenchmark.RandomData(8000, 784, 10); }
        var config = new EnsembleConfig(ModelArchitecture.Mlp(784, [128], 10), TrainingDefaults.Options(epochs: 1), 0.25f, 1);
        _trainer = new CpuTrainer(config, Level);
    }

    [Benchmark]
    public void OneModelEpoch() => _trainer.Train(_train, 0);
}
