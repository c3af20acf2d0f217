using System.Security.Cryptography;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;

namespace NativeCert.Benchmarks;

/// <summary>
/// `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- hashes`: SHA-256 of the votes and trained
/// parameters of a few small ensembles (short last batches, 1 and 2 hidden layers, the default MLP on real MNIST)
/// at every ISA level and 1/2 threads. A kernel change that keeps the ensemble contract prints the same hashes
/// before and after, and one hash per configuration across levels and threads.
/// </summary>
internal static class ContractHashes
{
    public static void Run()
    {
        Dataset mnistTrain, mnistTest;
        try
        {
            var split = DatasetCatalog.Load(DatasetCatalog.DefaultSpec);
            (mnistTrain, mnistTest) = (split.Train.Select(Enumerable.Range(0, 500).ToArray()), split.Test.Select(Enumerable.Range(0, 200).ToArray()));
        }
        catch (UserInputException)
        {
            (mnistTrain, mnistTest) = (EnsembleBenchmark.RandomData(500, 784, 10, 1), EnsembleBenchmark.RandomData(200, 784, 10, 2));
        }
        var small = EnsembleBenchmark.RandomData(97, 45, 7, 3);
        var smallTest = EnsembleBenchmark.RandomData(31, 45, 7, 4);
        var cases = new (string Name, EnsembleConfig Config, Dataset Train, Dataset Test, int Models)[]
        {
            ("784-128-10 b128 mnist500", new EnsembleConfig(ModelArchitecture.Mlp(784, [128], 10), TrainingDefaults.Options(epochs: 2), 0.5f, 0), mnistTrain, mnistTest, 4),
            ("784-64-32-10 b50 mnist500", new EnsembleConfig(ModelArchitecture.Mlp(784, [64, 32], 10), TrainingDefaults.Options(epochs: 2, batchSize: 50), 0.25f, 7), mnistTrain, mnistTest, 3),
            ("45-19-7 b16 random97", new EnsembleConfig(ModelArchitecture.Mlp(45, [19], 7), TrainingDefaults.Options(epochs: 3, batchSize: 16), 0.4f, 3), small, smallTest, 5),
            ("45-7 b16 random97", new EnsembleConfig(ModelArchitecture.Mlp(45, [], 7), TrainingDefaults.Options(epochs: 2, batchSize: 16), 0.4f, 3), small, smallTest, 3),
        };
        foreach (var (name, config, train, test, models) in cases)
            foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
                foreach (int threads in new[] { 1, 2 })
                {
                    var votes = new VoteCounts(test.Count, config.Model.Classes);
                    var parameters = new float[models * new ParameterLayout(config.Model).Count];
                    using var backend = new CpuEnsembleBackend(threads, isa);
                    backend.Run(config, train, test, 0, models, votes, parameters);
                    string v = Convert.ToHexString(SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(votes.Counts.AsSpan())))[..16];
                    string p = Convert.ToHexString(SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(parameters.AsSpan())))[..16];
                    Console.WriteLine($"{name,-28} {CpuIsa.Name(isa),-8} {threads}t votes {v} params {p}");
                }
    }
}
