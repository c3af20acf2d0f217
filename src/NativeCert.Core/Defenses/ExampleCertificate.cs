namespace NativeCert.Defenses;

/// <summary>
/// A certificate in training examples (DPA, bagging): the prediction provably stays <see cref="Prediction"/> for every
/// change of the training set by at most the given number of examples of each kind, features and labels alike.
/// Counts are −1 when abstaining (bagging only: the bounds on p_A and p_B overlap).
/// </summary>
/// <param name="Prediction">Aggregate class, or −1 when abstaining.</param>
/// <param name="PA">DPA: top class's share of the k votes; bagging: Clopper–Pearson lower bound on p_A.</param>
/// <param name="PB">DPA: runner-up share (the largest other class); bagging: upper bound on p_B (Bonferroni over classes).</param>
/// <param name="Inserted">Largest number of inserted training examples (any features and labels) that cannot change the prediction.</param>
/// <param name="Deleted">Largest number of deleted training examples.</param>
/// <param name="Modified">Largest number of modified examples (features and label replaced): a dirty-label backdoor's unit.</param>
/// <param name="Relabelled">Largest number of examples whose label alone is changed.</param>
/// <param name="Any">Largest r such that any mix of r insertions, deletions and modifications is covered.</param>
internal readonly record struct ExampleCertificate(int Prediction, double PA, double PB, long Inserted, long Deleted, long Modified, long Relabelled, long Any)
{
    public bool IsAbstain => Prediction < 0;

    public static ExampleCertificate Abstain(double pA, double pB) => new(-1, pA, pB, -1, -1, -1, -1, -1);

    /// <summary>Largest number of poisoned (modified) training examples covered: the unit of compare's m axis.</summary>
    public long PoisonedExamples => Modified;
}
