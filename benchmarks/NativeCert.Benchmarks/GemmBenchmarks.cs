using BenchmarkDotNet.Attributes;
using NativeCert.Engine.Reference;

namespace NativeCert.Benchmarks;

/// <summary>The scalar reference (double accumulation) on the first-layer forward of <see cref="PhaseBenchmarks"/>, for scale.</summary>
[ShortRunJob]
public class ReferenceGemmBenchmarks
{
    private const int B = 128, IN = 784, OUT = 128;
    private readonly float[] _x = new float[B * IN], _w = new float[IN * OUT], _bias = new float[OUT], _y = new float[B * OUT];

    [Benchmark]
    public void ReferenceForward() => ReferenceMlp.MatmulForward(_y, _x, _w, _bias, B, IN, OUT);
}
