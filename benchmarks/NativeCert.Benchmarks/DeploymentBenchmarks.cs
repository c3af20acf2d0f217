using BenchmarkDotNet.Attributes;
using NativeCert.Certification;
using NativeCert.Data;
using NativeCert.Engine;

namespace NativeCert.Benchmarks;

/// <summary>
/// Certifying one new input with a deployed ensemble (<see cref="SmoothedClassifier.Certify"/>): N = 200 MLPs
/// 784-128-10 (random weights: the cost does not depend on them), one MNIST-sized input, one thread. The peer is the
/// same votes through <see cref="EnsembleFile.Vote"/> (a fresh trainer per call) and the batch certifier.
/// </summary>
[MemoryDiagnoser]
public class DeploymentBenchmarks
{
    private const int Models = 200;
    private SmoothedClassifier _classifier = null!;
    private float[] _input = null!;

    [GlobalSetup]
    public void Setup()
    {
        var config = new EnsembleConfig(ModelArchitecture.Mlp(784, [128], 10), TrainingDefaults.Options(), 0.25f, 0);
        var layout = new ParameterLayout(config.Model);
        var rng = new Random(7);
        var parameters = new float[Models * layout.Count];
        for (int i = 0; i < parameters.Length; i++) parameters[i] = (float)(rng.NextDouble() - 0.5) * 0.1f;
        _classifier = SmoothedClassifier.FromEnsemble(new EnsembleFile(config, 0, Models, parameters), threads: 1);
        _input = new float[784];
        for (int i = 0; i < _input.Length; i++) _input[i] = (float)rng.NextDouble();
    }

    [Benchmark]
    public Certificate Certify() => _classifier.Certify(_input);

    [Benchmark(Baseline = true)]
    public Certificate VoteThenCertify()
    {
        var row = new Dataset(_input.ToArray(), [0], 784, 10, null, "input");
        return Certifier.CertifySimuEM(_classifier.Ensemble.Vote(row, threads: 1), _classifier.Sigma, _classifier.Alpha)[0];
    }
}
