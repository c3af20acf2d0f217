using NativeCert.Engine;
using NativeCert.Engine.Cpu;

namespace NativeCert.Tests.Engine;

/// <summary>The phase profile of the CPU engine: it accounts for the run's time and changes no result.</summary>
public class CpuPhaseProfileTests
{
    /// <summary>Runs the ensemble with and without a profile, asserts equal votes and parameters, returns the profile.</summary>
    private static CpuPhaseProfile ProfiledRunChangesNothing(EnsembleConfig config, NativeCert.Data.Dataset train, NativeCert.Data.Dataset test,
        int models, int threads, IsaLevel isa)
    {
        var layout = new ParameterLayout(config.Model);
        (VoteCounts, float[]) RunWith(CpuPhaseProfile? profile)
        {
            using var backend = new CpuEnsembleBackend(threads, isa) { Profile = profile };
            var votes = new VoteCounts(test.Count, config.Model.Classes);
            var parameters = new float[models * layout.Count];
            backend.Run(config, train, test, 0, models, votes, parameters);
            return (votes, parameters);
        }
        var (plainVotes, plainParameters) = RunWith(null);
        var profile = new CpuPhaseProfile();
        var (votes, parameters) = RunWith(profile);
        Assert.Equal(plainVotes.Counts, votes.Counts);
        Assert.Equal(plainParameters, parameters);
        return profile;
    }

    [Theory]
    [InlineData(1, IsaLevel.Avx512)]
    [InlineData(2, IsaLevel.Avx2)]
    internal void ProfiledRunHasTheSameVotesAndParametersAndAccountsForThreadsTimesWall(int threads, IsaLevel isa)
    {
        var train = EngineTestData.Blobs(90, 20, 3, 5);
        var test = EngineTestData.Blobs(30, 20, 3, 6);
        var config = EngineTestData.Config(20, [16, 8], 3, epochs: 2, batch: 32, sigma: 0.5f);
        var profile = ProfiledRunChangesNothing(config, train, test, models: 4, threads, isa);

        Assert.Equal(threads, profile.Threads);
        Assert.True(profile.WallSeconds > 0);
        foreach (var phase in Enum.GetValues<CpuPhase>())
            Assert.True(profile.Seconds(phase) > 0, $"{phase} got no time");
        double shares = Enum.GetValues<CpuPhase>().Sum(profile.Share) + profile.ThreadingShare + profile.DescheduledShare + profile.BlockedShare;
        Assert.InRange(shares, 0.999, 1.001);
        Assert.InRange(profile.IdleAtEndSeconds, 0, profile.ThreadingSeconds + 1e-9);
        if (OperatingSystem.IsLinux()) Assert.InRange(profile.CpuSeconds, 1e-6, threads * profile.WallSeconds * 1.05 + 0.01);
    }

    [Fact]
    public void MeasureProfilesOnlyTheTimedRun()
    {
        var train = EngineTestData.Blobs(64, 20, 3, 5);
        var config = EngineTestData.Config(20, [16], 3, epochs: 3, batch: 32);
        var profile = CpuPhaseProfile.Measure(config, train, inputs: null, models: 2, threads: 1, IsaLevel.Avx512);
        Assert.Equal(2, profile.Models);
        Assert.Equal(0, profile.Inputs);
        Assert.Equal(CpuIsa.Clamp(IsaLevel.Avx512), profile.Isa);
        Assert.Equal(0, profile.Seconds(CpuPhase.Vote));
        Assert.True(profile.Seconds(CpuPhase.FirstForwardGemm) > 0);
    }

    [Theory]
    [InlineData(1, IsaLevel.Avx512)]
    [InlineData(2, IsaLevel.Scalar)]
    internal void LayerListProfileHasAPhasePerLayerAndPassAndChangesNoResult(int threads, IsaLevel isa)
    {
        var shape = new NativeCert.Data.ImageShape(2, 10, 9);
        static NativeCert.Data.Dataset Images(NativeCert.Data.Dataset d, NativeCert.Data.ImageShape s) => new(d.Features, d.Labels, d.Dimension, d.ClassCount, s, d.Source);
        var train = Images(EngineTestData.Blobs(60, shape.Size, 3, 5), shape);
        var test = Images(EngineTestData.Blobs(20, shape.Size, 3, 6), shape);
        var model = ModelArchitecture.ForData(ModelArchitecture.Parse("conv:4:3:1,relu,maxpool,conv:5:3,relu,flatten,dense:7,relu"), shape.Size, shape, 3);
        var config = new EnsembleConfig(model, new TrainingOptions(2, 16, 0.05f, 0.9f, 5e-4f), 0.5f, 9);
        var profile = ProfiledRunChangesNothing(config, train, test, models: 3, threads, isa);

        Assert.True(profile.HasLayerPhases);
        var rows = profile.PhaseRows();
        Assert.Equal(new[]
        {
            "noise", "init", "gather",
            "conv1_forward", "pool1_forward", "conv2_forward", "flatten1_forward", "dense1_forward", "dense2_forward",
            "tail",
            "dense2_backward", "relu3_backward", "dense1_backward", "flatten1_backward", "relu2_backward",
            // pool1's backward runs inside conv1's weight gradient (Conv2dBackwardWeightThroughPool): no phase of its own.
            "conv2_backward_weight", "conv2_backward_input", "relu1_backward", "conv1_backward_weight",
            "optimizer", "vote",
        }, rows.Select(r => r.Key));
        foreach (var (key, seconds, _, _) in rows) Assert.True(seconds > 0, $"{key} got no time");
        Assert.Equal(model.Layers[3].ForwardMacs, rows.Single(r => r.Key == "conv2_backward_input").MacsPerExample);
        Assert.Equal(0, rows.Single(r => r.Key == "pool1_forward").MacsPerExample);
        Assert.InRange(rows.Sum(r => r.Share) + profile.ThreadingShare + profile.DescheduledShare + profile.BlockedShare, 0.999, 1.001);
    }
}
