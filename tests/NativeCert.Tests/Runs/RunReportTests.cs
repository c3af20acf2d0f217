using NativeCert.Certification;
using NativeCert.Engine;
using NativeCert.Runs;
using NativeCert.Spec;

namespace NativeCert.Tests.Runs;

/// <summary>The report's attack numbers on hand-made votes, where every certificate is known.</summary>
public sealed class RunReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-report-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void AttackSummaryUsesTheExactJointTriggerNorm()
    {
        // Inputs: two clean (labels 0, 1), three triggered (true labels 1, 1, 1; target 0).
        int[] labels = [0, 1, 1, 1, 1];
        InputKind[] kinds = [InputKind.Clean, InputKind.Clean, InputKind.Triggered, InputKind.Triggered, InputKind.Triggered];
        var counts = new VoteCounts(5, 2);
        counts[0, 0] = 1000;           // clean, correct
        counts[1, 1] = 1000;           // clean, correct
        counts[2, 1] = 1000;           // triggered, correct: joint norm √(R²/2 + R²/4) < R
        counts[3, 1] = 1000;           // triggered, correct: joint norm √(R²/2 + 0.64 R²) > R
        counts[4, 0] = 1000;           // triggered, attack succeeded
        double r = Certifier.CertifySimuEM(counts, 0.5, 0.001)[0].Radius;
        Assert.True(r > 0);
        var spec = JobSpec.Default with
        {
            Attack = new AttackSpec(),
            Smoothing = new SmoothingSpec { Sigma = 0.5f, Models = 1000 },
            Certification = new CertificationSpec { Alpha = 0.001, TriggerNorms = [0.1], Radii = [0, 0.5] },
        };
        var config = RunConfig.Create(spec, new RunExecution(), new RunDataFacts("test", 4, 2, 2, 2, null, "", ""),
            new RunAttackFacts("patch", 0, 0.8 * r, 2, "dirty", 3, PoisonedRowNorms: [r / 2, r / 2], TriggeredRowNorms: [0.5 * r, 0.8 * r, 0.8 * r]));
        var votes = new VoteFile(config.HashBytes(), labels, kinds, classes: 2, selectionModels: 0);
        votes.AddChunk(0, 1000, counts);
        votes.Undefended = new VoteCounts(5, 2);
        votes.Undefended[0, 0] = 1; votes.Undefended[1, 1] = 1; votes.Undefended[2, 0] = 1; votes.Undefended[3, 0] = 1; votes.Undefended[4, 0] = 1;

        var dir = new RunDirectory(_dir);
        var report = RunReport.Write(dir, config, votes);
        var a = report.Summary.Attack!;
        Assert.Equal(1 / 3.0, a.AttackSuccessRateSmoothed, 12);
        Assert.Equal(1.0, a.AttackSuccessRateUndefended, 12);
        Assert.Equal(1.0, a.CleanAccuracyUndefended, 12);
        Assert.Equal(2 / 3.0, a.TriggeredAccuracySmoothed, 12);
        Assert.Equal(1 / 3.0, a.TriggeredCertifiedFraction, 12);
        // Clean inputs against t·√(M+1) = 0.8·√3 R > R: not covered.
        Assert.Equal(0.0, a.CleanCertifiedAgainstAttack, 12);
        Assert.Equal(1.0, report.Summary.CertifiedAccuracyAtZeroRadius, 12);
        Assert.Equal(2, report.Summary.TestInputs);
        Assert.True(dir.IsComplete);
        Assert.Equal(3, File.ReadAllLines(dir.CertificatesPath).Length);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(_dir, RunReport.TriggeredCertificatesFile)).Length);
    }

    [Fact]
    public void PoisonPlotReachesItsCapWhenEveryCountIsCovered()
    {
        // R / t = 1e10: every m is certified (the largest count is long.MaxValue); the plot must run to its cap, not stop at m = 1.
        Certificate[] certs = [new(0, 0.9, 0.1, 1.0), new(1, 0.9, 0.1, 0.5)];
        var curves = RunReport.PoisonCurves(certs, [0, 1], [1e-10, 0.1]);
        Assert.Equal(2, curves.Length);
        Assert.Equal(1_000_000, curves[0].PoisonedExamples[^1]);
        Assert.Equal(1.0, curves[0].CertifiedAccuracy[^1]);
        // t = 0.1: R = 1 covers m ≤ 98, R = 0.5 covers m ≤ 23; at the cap neither.
        Assert.Equal(0.0, curves[1].CertifiedAccuracy[^1]);
    }
}
