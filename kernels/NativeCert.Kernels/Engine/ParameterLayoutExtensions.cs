using NativeCert.Engine;

namespace NativeCert.Kernels.Engine;

/// <summary>What the device side needs from a <see cref="ParameterLayout"/>.</summary>
internal static class ParameterLayoutExtensions
{
    /// <summary>He-normal scale per flat parameter: √(2 / in_l) for a weight of layer l, 0 for a bias, <c>(P)</c>.</summary>
    public static float[] HeScale(this ParameterLayout layout)
    {
        var scale = new float[layout.Count];
        for (int l = 0; l < layout.Layers; l++)
            scale.AsSpan(layout.WeightOffset(l), layout.In(l) * layout.Out(l)).Fill(MathF.Sqrt(2f / layout.In(l)));
        return scale;
    }
}
