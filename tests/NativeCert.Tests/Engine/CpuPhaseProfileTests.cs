using NativeCert.Engine;
using NativeCert.Engine.Cpu;

namespace NativeCert.Tests.Engine;

/// <summary>The phase profile of the CPU engine: it accounts for the run's time and changes no result.</summary>
public class CpuPhaseProfileTests
{
    [Theory]
    [InlineData(1, IsaLevel.Avx512)]
    [InlineData(2, IsaLevel.Avx2)]
    internal void ProfiledRunHasTheSameVotesAndParametersAndAccountsForThreadsTimesWall(int threads, IsaLevel isa)
    {
        var train = EngineTestData.Blobs(90, 20, 3, 5);
        var test = EngineTestData.Blobs(30, 20, 3, 6);
        var config = EngineTestData.Config(20, [16, 8], 3, epochs: 2, batch: 32, sigma: 0.5f);
        const int N = 4;
        var layout = new ParameterLayout(config.Model);

        (VoteCounts, float[]) RunWith(CpuPhaseProfile? profile)
        {
            using var backend = new CpuEnsembleBackend(threads, isa) { Profile = profile };
            var votes = new VoteCounts(test.Count, 3);
            var parameters = new float[N * layout.Count];
            backend.Run(config, train, test, 0, N, votes, parameters);
            return (votes, parameters);
        }

        var (plainVotes, plainParameters) = RunWith(null);
        var profile = new CpuPhaseProfile();
        var (votes, parameters) = RunWith(profile);
        Assert.Equal(plainVotes.Counts, votes.Counts);
        Assert.Equal(plainParameters, parameters);

        Assert.Equal(threads, profile.Threads);
        Assert.True(profile.WallSeconds > 0);
        foreach (var phase in Enum.GetValues<CpuPhase>())
            Assert.True(profile.Seconds(phase) > 0, $"{phase} got no time");
        double shares = Enum.GetValues<CpuPhase>().Sum(profile.Share) + profile.ThreadingShare + profile.DescheduledShare;
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
}
