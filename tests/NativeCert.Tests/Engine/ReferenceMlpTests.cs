using NativeCert.Engine;
using NativeCert.Engine.Reference;
using NativeCert.Noise;

namespace NativeCert.Tests.Engine;

public class ReferenceMlpTests
{
    /// <summary>Mean cross-entropy of an MLP on a batch, all in double, written independently of ReferenceMlp.</summary>
    private static double LossInDouble(double[] p, ParameterLayout layout, float[] x, int[] labels, int B)
    {
        double total = 0;
        for (int b = 0; b < B; b++)
        {
            double[] a = new double[layout.Model.InputSize];
            for (int f = 0; f < a.Length; f++) a[f] = x[b * a.Length + f];
            for (int l = 0; l < layout.Layers; l++)
            {
                int IN = layout.In(l), OUT = layout.Out(l);
                var next = new double[OUT];
                for (int o = 0; o < OUT; o++)
                {
                    double s = p[layout.BiasOffset(l) + o];
                    for (int k = 0; k < IN; k++) s += a[k] * p[layout.WeightOffset(l) + k * OUT + o];
                    next[o] = l + 1 < layout.Layers ? Math.Max(s, 0) : s;
                }
                a = next;
            }
            double max = a.Max(), sum = a.Sum(v => Math.Exp(v - max));
            total += Math.Log(sum) - (a[labels[b]] - max);
        }
        return total / B;
    }

    [Fact]
    public void GradientsMatchDoubleFiniteDifferences()
    {
        var layout = new ParameterLayout(ModelArchitecture.Mlp(7, [6, 5], 4));
        const int B = 5;
        var parameters = EngineTestData.RandomArray(layout.Count, 1, 0.7f);
        var x = EngineTestData.RandomArray(B * 7, 2);
        int[] labels = [0, 3, 1, 2, 3];

        // Analytical gradient through the reference layers (the same calls as ReferenceTrainer).
        var acts = ReferenceTrainer.Activations(layout.Model, B);
        var dacts = ReferenceTrainer.Activations(layout.Model, B);
        x.CopyTo(acts[0], 0);
        ReferenceTrainer.Forward(acts, parameters, layout, B);
        var losses = new float[B];
        var gradients = new float[layout.Count];
        ReferenceMlp.SoftmaxCrossEntropyBackward(dacts[^1], losses, acts[^1], labels, B, 4);
        ReferenceTrainer.Backward(acts, dacts, parameters, gradients, layout, B);

        var p = parameters.Select(v => (double)v).ToArray();
        Assert.Equal(LossInDouble(p, layout, x, labels, B), losses.Average(v => (double)v), 5);
        double worst = 0;
        for (int i = 0; i < p.Length; i++)
        {
            const double h = 1e-6;
            double keep = p[i];
            p[i] = keep + h; double up = LossInDouble(p, layout, x, labels, B);
            p[i] = keep - h; double down = LossInDouble(p, layout, x, labels, B);
            p[i] = keep;
            double numeric = (up - down) / (2 * h);
            worst = Math.Max(worst, Math.Abs(numeric - gradients[i]) / (1e-3 + Math.Abs(numeric)));
        }
        Assert.True(worst < 1e-3, $"largest relative gradient error {worst:g3}");
    }

    [Fact]
    public void SgdMomentumFollowsPyTorchSemantics()
    {
        float[] w = [1f, -2f], v = [0f, 0f], g = [0.5f, 0.25f];
        ReferenceMlp.SgdMomentumUpdate(w, v, g, 0.1f, 0.9f, 0.01f);
        // step 1: v = g + λw; w −= η v
        Assert.Equal(0.5f + 0.01f, v[0]);
        Assert.Equal(1f - 0.1f * (0.5f + 0.01f), w[0], 6);
        float v1 = v[1], w1 = w[1];
        ReferenceMlp.SgdMomentumUpdate(w, v, g, 0.1f, 0.9f, 0.01f);
        float expectedV = 0.9f * v1 + (0.25f + 0.01f * w1);
        Assert.Equal(expectedV, v[1], 6);
        Assert.Equal(w1 - 0.1f * expectedV, w[1], 6);
    }

    [Fact]
    public void ArgmaxTakesLowestIndexOnTies() => Assert.Equal(1, ReferenceMlp.Argmax([0f, 3f, 3f, -1f]));

    [Fact]
    public void ShuffleIsAPermutationAndDependsOnEpochAndModel()
    {
        var a = new int[1001]; var b = new int[1001]; var c = new int[1001];
        ReferenceNoise.ShufflePermutation(a, 5, 0, 0);
        ReferenceNoise.ShufflePermutation(b, 5, 0, 1);
        ReferenceNoise.ShufflePermutation(c, 5, 1, 0);
        Assert.Equal(Enumerable.Range(0, 1001), a.Order());
        Assert.NotEqual(a, b);
        Assert.NotEqual(a, c);
        // Step i = n−1 draws from lane (i % 4) of block i/4 of the Shuffle stream.
        var (x0, x1, x2, x3) = NoiseKey.Block(5, NoiseStream.Shuffle, 0, 0, 1000 / 4);
        Assert.Equal(x0, new[] { x0, x1, x2, x3 }[1000 % 4]);
    }

    [Fact]
    public void HeInitHasTheRightScaleAndZeroBiases()
    {
        var layout = new ParameterLayout(ModelArchitecture.Mlp(784, [128], 10));
        var p = new float[layout.Count];
        ReferenceNoise.HeInit(p, layout, 3, 2);
        var w0 = layout.Weight(p, 0).ToArray();
        double var0 = w0.Average(v => (double)v * v);
        Assert.InRange(var0, 2.0 / 784 * 0.97, 2.0 / 784 * 1.03);
        Assert.All(layout.Bias(p, 0).ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(BoxMuller.Gaussian(3, NoiseStream.WeightInit, 2, 0, (uint)layout.WeightOffset(1) + 5) * MathF.Sqrt(2f / 128),
            p[layout.WeightOffset(1) + 5]);
    }

    [Fact]
    public void ReferenceTrainingLearnsBlobsAndVotesAreDeterministic()
    {
        var train = EngineTestData.Blobs(200, 12, 3, 1);
        var test = EngineTestData.Blobs(60, 12, 3, 2);
        var config = EngineTestData.Config(12, [16], 3, epochs: 5, sigma: 0.05f);
        var losses = new List<float>();
        var p = ReferenceTrainer.Train(config, train, 0, losses);
        Assert.True(losses[^1] < losses[0] * 0.5, $"losses {string.Join(", ", losses)}");
        var votes = new VoteCounts(test.Count, 3);
        ReferenceTrainer.Vote(config, p, test, 0, votes);
        int correct = Enumerable.Range(0, test.Count).Count(t => votes[t, test.Labels[t]] == 1);
        Assert.True(correct >= 57, $"{correct}/60 correct");
        var again = new VoteCounts(test.Count, 3);
        ReferenceTrainer.Run(config, train, test, 0, 1, again);
        Assert.Equal(votes.Counts, again.Counts);
    }
}
