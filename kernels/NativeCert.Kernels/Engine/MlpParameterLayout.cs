using NativeCert.Engine;

namespace NativeCert.Kernels.Engine;

/// <summary>
/// Offsets of each layer's weights W_l (in_l, out_l) and bias b_l (out_l) in one model's flat parameter row
/// (docs/engine.md: W_0, b_0, W_1, b_1, …).
/// </summary>
public sealed class MlpParameterLayout
{
    /// <summary>[D, H1, …, C].</summary>
    public int[] Widths { get; }
    public int Layers => Widths.Length - 1;
    public long[] WeightOffset { get; }
    public long[] BiasOffset { get; }
    /// <summary>Parameters per model, P.</summary>
    public int Count { get; }

    public MlpParameterLayout(MlpShape shape)
    {
        Widths = shape.Widths();
        WeightOffset = new long[Layers];
        BiasOffset = new long[Layers];
        long p = 0;
        for (int l = 0; l < Layers; l++)
        {
            WeightOffset[l] = p;
            p += (long)Widths[l] * Widths[l + 1];
            BiasOffset[l] = p;
            p += Widths[l + 1];
        }
        if (p > int.MaxValue) throw new UserInputException($"model {shape} has {p} parameters; at most {int.MaxValue} are supported");
        Count = (int)p;
    }

    /// <summary>He-normal scale per flat parameter: √(2 / in_l) for a weight of layer l, 0 for a bias, <c>(P)</c>.</summary>
    public float[] HeScale()
    {
        var scale = new float[Count];
        for (int l = 0; l < Layers; l++)
        {
            float s = MathF.Sqrt(2f / Widths[l]);
            scale.AsSpan((int)WeightOffset[l], Widths[l] * Widths[l + 1]).Fill(s);
        }
        return scale;
    }

    /// <summary>Widest layer after the input: the row width of the gradient scratch buffers.</summary>
    public int MaxLayerWidth() => Widths.Skip(1).Max();
}
