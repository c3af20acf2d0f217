using NativeCert.Certification;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Spec;
using NativeCert.Tests.Engine;

namespace NativeCert.Tests.Api;

/// <summary>The deployment API: train or load an ensemble, certify one new input, from many threads at once.</summary>
public class SmoothedClassifierTests
{
    private static readonly Dataset Train = EngineTestData.Blobs(240, 12, 3, seed: 1);
    private static readonly Dataset Test = EngineTestData.Blobs(30, 12, 3, seed: 2);
    private static readonly DataSplit Blobs = new(Train, Test) { Name = "blobs" };
    /// <summary>EngineTestData.Config's training (lr 0.05, batch 16, seed 7) for 12 features and 3 classes; N = 40, α = 0.01.</summary>
    private static readonly JobSpec Spec = JobSpec.Default with
    {
        Model = new ModelSpec { Hidden = [16] },
        Training = new TrainingSpec { Epochs = 3, BatchSize = 16, LearningRate = 0.05f, Momentum = 0.9f, WeightDecay = 5e-4f },
        Smoothing = new SmoothingSpec { Sigma = 0.25f, Seed = 7, Models = 40 },
        Certification = new CertificationSpec { Alpha = 0.01 },
    };
    private static readonly Lazy<SmoothedClassifier> Trained = new(() =>
        SmoothedClassifier.TrainAsync(Spec, Blobs, threads: 2).GetAwaiter().GetResult());

    private static float[] TestRow(int i) => Test.Row(i).ToArray();

    [Fact]
    public void CertifyEqualsVotingOnAOneRowDatasetThenTheScalarCertifier()
    {
        var classifier = Trained.Value;
        Assert.Equal((12, 3, 40, 0.25, 0.01), (classifier.InputDimension, classifier.Classes, classifier.Models, classifier.Sigma, classifier.Alpha));
        for (int i = 0; i < 10; i++)
        {
            var row = new Dataset(TestRow(i), [Test.Labels[i]], 12, 3, null, "row");
            uint[] votes = classifier.Ensemble.Vote(row, threads: 1).Counts;
            Assert.Equal(votes, classifier.Vote(TestRow(i)));
            Assert.Equal(40, votes.Sum(v => (long)v));
            var expected = Certifier.CertifySimuEMReference(votes, 0.25, 0.01);
            var got = classifier.Certify(TestRow(i));
            Assert.Equal(expected.Prediction, got.Prediction);
            Assert.Equal(expected.PA, got.PA, 14);
            Assert.Equal(expected.PB, got.PB, 14);
            Assert.Equal(expected.Radius, got.Radius, 12);
        }
    }

    [Fact]
    public void TheSpecTrainsTheEngineConfigurationItMapsTo()
    {
        var engine = EngineTestData.Config(12, [16], 3, epochs: 3, sigma: 0.25f);
        var config = Trained.Value.Ensemble.Config;
        Assert.Equal((engine.Model.ToString(), engine.Training, engine.Sigma, engine.Seed), (config.Model.ToString(), config.Training, config.Sigma, config.Seed));
        var direct = EnsembleFile.Train(new NativeCert.Engine.Cpu.CpuEnsembleBackend(1), Spec.ToEnsembleConfig(12, 3), Train, 0, 40);
        Assert.Equal(direct.Parameters, Trained.Value.Ensemble.Parameters);
    }

    [Fact]
    public void MostTestInputsAreCertifiedCorrectlyWithAPositiveRadius()
    {
        var classifier = Trained.Value;
        int correct = 0;
        for (int i = 0; i < Test.Count; i++)
        {
            var c = classifier.Certify(TestRow(i));
            Assert.True(c.IsAbstain ? c.Radius == 0 : c.Radius >= 0 && c.PA > c.PB);
            if (c.Prediction == Test.Labels[i] && c.Radius > 0) correct++;
        }
        Assert.True(correct >= 20, $"{correct}/{Test.Count} certified correct");
    }

    [Fact]
    public void ConcurrentCallersGetTheSequentialAnswers()
    {
        var classifier = Trained.Value;
        var sequential = Enumerable.Range(0, Test.Count).Select(i => classifier.Certify(TestRow(i))).ToArray();
        var concurrent = new Certificate[64];
        Parallel.For(0, concurrent.Length, new ParallelOptions { MaxDegreeOfParallelism = 16 },
            j => concurrent[j] = classifier.Certify(TestRow(j % Test.Count)));
        for (int j = 0; j < concurrent.Length; j++) Assert.Equal(sequential[j % Test.Count], concurrent[j]);
    }

    [Fact]
    public void SaveThenLoadCertifiesIdenticallyWithAnyThreadCount()
    {
        string path = Path.Combine(Path.GetTempPath(), $"nativecert-api-{Guid.NewGuid():N}.bin");
        try
        {
            Trained.Value.Save(path);
            var loaded = SmoothedClassifier.Load(path, alpha: 0.01, threads: 1);
            Assert.Equal(40, loaded.Models);
            for (int i = 0; i < 5; i++) Assert.Equal(Trained.Value.Certify(TestRow(i)), loaded.Certify(TestRow(i)));
            // A different α changes the bounds but not the votes or the predicted class.
            var strict = SmoothedClassifier.Load(path, alpha: 1e-6);
            var (a, b) = (loaded.Certify(TestRow(0)), strict.Certify(TestRow(0)));
            Assert.True(b.PA <= a.PA && b.Radius <= a.Radius);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void BadInputsAreArgumentErrorsThatSayWhatIsWrong()
    {
        var classifier = Trained.Value;
        var e = Assert.Throws<ArgumentException>(() => classifier.Certify(new float[11]));
        Assert.Contains("11 features", e.Message);
        var nan = TestRow(0);
        nan[5] = float.NaN;
        e = Assert.Throws<ArgumentException>(() => classifier.Certify(nan));
        Assert.Contains("feature 5", e.Message);
        nan[5] = float.PositiveInfinity;
        Assert.Throws<ArgumentException>(() => classifier.Certify(nan));
        Assert.Throws<ArgumentOutOfRangeException>(() => SmoothedClassifier.FromEnsemble(classifier.Ensemble, alpha: 1));
        string missing = Path.Combine(Path.GetTempPath(), $"nativecert-missing-{Guid.NewGuid():N}.bin");
        Assert.Contains(missing, Assert.Throws<UserInputException>(() => SmoothedClassifier.Load(missing)).Message);
    }

    [Fact]
    public async Task TrainingHonoursCancellation()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => SmoothedClassifier.TrainAsync(Spec, Blobs, cancellation: cts.Token));
    }
}
