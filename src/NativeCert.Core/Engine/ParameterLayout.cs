namespace NativeCert.Engine;

/// <summary>
/// Offsets of every tensor in the one flat parameter buffer (docs/engine.md): W_0 <c>(in_0, out_0)</c>
/// row-major, b_0 <c>(out_0)</c>, W_1, b_1, … in that order. Gradients and momentum use the same layout.
/// </summary>
public sealed class ParameterLayout
{
    private readonly int[] _weightOffsets, _biasOffsets;

    /// <summary>[D, H1, …, C].</summary>
    public int[] Widths { get; }
    /// <summary>Number of weight layers (= Widths.Length − 1).</summary>
    public int Layers { get; }
    /// <summary>Total parameter count (floats).</summary>
    public int Count { get; }

    public ParameterLayout(MlpShape shape) : this(shape.Widths()) { }

    public ParameterLayout(int[] widths)
    {
        if (widths.Length < 2) throw new ArgumentException("an MLP needs at least an input and an output width");
        foreach (int w in widths) if (w <= 0) throw new ArgumentException($"layer width {w} is not positive");
        Widths = (int[])widths.Clone();
        Layers = widths.Length - 1;
        _weightOffsets = new int[Layers];
        _biasOffsets = new int[Layers];
        long offset = 0;
        for (int l = 0; l < Layers; l++)
        {
            _weightOffsets[l] = (int)offset;
            offset += (long)widths[l] * widths[l + 1];
            _biasOffsets[l] = (int)offset;
            offset += widths[l + 1];
            if (offset > int.MaxValue) throw new ArgumentException("model too large for one flat buffer");
        }
        Count = (int)offset;
    }

    public int In(int layer) => Widths[layer];
    public int Out(int layer) => Widths[layer + 1];
    public int WeightOffset(int layer) => _weightOffsets[layer];
    public int BiasOffset(int layer) => _biasOffsets[layer];

    /// <summary>View of W_l <c>(in_l, out_l)</c> in a flat buffer of this layout.</summary>
    public Span<float> Weight(Span<float> flat, int layer) => flat.Slice(_weightOffsets[layer], Widths[layer] * Widths[layer + 1]);
    /// <summary>View of b_l <c>(out_l)</c> in a flat buffer of this layout.</summary>
    public Span<float> Bias(Span<float> flat, int layer) => flat.Slice(_biasOffsets[layer], Widths[layer + 1]);
}
