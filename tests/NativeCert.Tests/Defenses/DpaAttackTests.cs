using NativeCert.Attacks;
using NativeCert.Data;
using NativeCert.Defenses;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Runs;

namespace NativeCert.Tests.Defenses;

/// <summary>
/// End to end on real digits: a dirty-label patch attack on m training examples never changes the DPA prediction of an
/// input whose certificate (on the clean training set) is at least m modified examples. DPA is deterministic, so not
/// one exception is allowed.
/// </summary>
public class DpaAttackTests
{
    [Fact]
    public void DirtyLabelAttackNeverFlipsAnInputCertifiedForThatManyModifiedExamples()
    {
        var split = DatasetCatalog.Subset(DatasetCatalog.SelectClasses(DatasetCatalog.Load("mnist"), [0, 1, 7]), 600, 120, 0);
        const int partitions = 15, target = 2;
        var config = new EnsembleConfig(ModelArchitecture.Mlp(784, [16], 3),
            TrainingDefaults.Options(epochs: TrainingDefaults.DefenseEpochs(600 / partitions, 64), batchSize: 64), 0f, 3) { View = new PartitionView(partitions) };
        var attack = new BackdoorAttack(new PatchTrigger(split.Train.Shape!.Value, 4, 1f, TriggerCorner.BottomRight));
        var (inputs, _) = CertifyPipeline.AppendTriggered(split.Test, attack.TriggerInputs(split.Test, target).Data);

        VoteCounts Votes(Dataset train)
        {
            var votes = new VoteCounts(inputs.Count, 3);
            using var backend = new CpuEnsembleBackend(2);
            backend.Run(config, train, inputs, 0, partitions, votes);
            return votes;
        }
        var cleanVotes = Votes(split.Train);
        var clean = DpaCertificate.Certify(cleanVotes);
        int certifiedChecked = 0;
        foreach (int m in new[] { 1, 2, 3 })
            foreach (ulong seed in new ulong[] { 0, 1 })
            {
                var poisoned = attack.Poison(split.Train, m, target, LabelMode.Dirty, seed);
                var after = Votes(poisoned.Data);
                for (int t = 0; t < inputs.Count; t++)
                {
                    // m modified rows touch at most 2m partitions: at most 2m votes move.
                    long moved = 0;
                    for (int c = 0; c < 3; c++) moved += Math.Abs((long)after[t, c] - cleanVotes[t, c]);
                    Assert.True(moved <= 2 * 2 * m, $"input {t}: {moved / 2} votes moved with {m} poisoned rows");
                    var now = DpaCertificate.Certify(after.Row(t));
                    if (clean[t].Modified >= m)
                    {
                        certifiedChecked++;
                        Assert.True(now.Prediction == clean[t].Prediction,
                                    $"input {t}: certified for {clean[t].Modified} modified examples, but {m} poisoned rows changed {clean[t].Prediction} to {now.Prediction}");
                    }
                }
            }
        Assert.True(certifiedChecked > 500, $"only {certifiedChecked} certified (input, attack) pairs checked");
    }
}
