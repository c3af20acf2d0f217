namespace NativeCert.Certification;

/// <summary>How p_A and p_B are bounded from vote counts.</summary>
internal enum CertificationMethod
{
    /// <summary>
    /// Jia, Cao, Wang, Gong (ICLR 2020), SimuEM: Clopper–Pearson bounds for every class at α/C from one set of votes;
    /// p_A = lower bound of the top class, p_B = min(max upper bound of the others, 1 − p_A).
    /// </summary>
    SimuEM,

    /// <summary>
    /// Cohen, Rosenfeld, Kolter (ICML 2019): the class is selected on separate selection votes, p_A is bounded at α
    /// on the estimation votes, p_B = 1 − p_A.
    /// </summary>
    Cohen,
}

/// <summary>
/// The certificate of one test input. <see cref="Prediction"/> is the smoothed class, or <see cref="Abstain"/> (−1).
/// With probability ≥ 1 − α (over the models' noise), the smoothed classifier predicts <see cref="Prediction"/> for every
/// change of the training features and the test input whose total ℓ2 norm (input units) is below <see cref="Radius"/>.
/// </summary>
/// <param name="Prediction">Smoothed class, or −1 when abstaining.</param>
/// <param name="PA">Lower confidence bound on the top class probability.</param>
/// <param name="PB">Upper confidence bound on the runner-up class probability.</param>
/// <param name="Radius">Certified ℓ2 radius in input units; 0 when abstaining.</param>
public readonly record struct Certificate(int Prediction, double PA, double PB, double Radius)
{
    /// <summary>The prediction value that means "abstain".</summary>
    public const int Abstain = -1;

    /// <summary>True when the certifier could not separate p_A from p_B.</summary>
    public bool IsAbstain => Prediction == Abstain;
}
