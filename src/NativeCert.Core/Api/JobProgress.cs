namespace NativeCert;

/// <summary>Progress of a library job: models finished so far, of the job's total (Cohen's n0 selection models included).</summary>
public readonly record struct JobProgress(int ModelsDone, int ModelsTotal);
