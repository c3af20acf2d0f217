using NativeCert.Data;
using NativeCert.Spec;

namespace NativeCert.Attacks;

/// <summary>
/// A backdoor trigger: a fixed change to an input row, the result clipped to [0,1] (the pixel range).
/// The perturbation an attack reports is the actual ‖Apply(x) − x‖₂ after clipping, in input units.
/// </summary>
internal abstract class Trigger
{
    /// <summary>Number of features of the rows this trigger applies to.</summary>
    public abstract int Dimension { get; }

    /// <summary>Writes the triggered input, clipped to [0,1], into <paramref name="dst"/> (which may not alias <paramref name="x"/>).</summary>
    public abstract void Apply(Span<float> dst, ReadOnlySpan<float> x);

    /// <summary>One line for reports, e.g. "patch 3x3 of 1 at bottom-right".</summary>
    public abstract string Describe();

    /// <summary>Exact ℓ2 norm, in double, of <paramref name="triggered"/> − <paramref name="x"/> (input units).</summary>
    public static double PerturbationNorm(ReadOnlySpan<float> triggered, ReadOnlySpan<float> x)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double d = (double)triggered[i] - x[i];
            sum += d * d;
        }
        return Math.Sqrt(sum);
    }

    protected void CheckDimension(Span<float> dst, ReadOnlySpan<float> x)
    {
        if (x.Length != Dimension || dst.Length != Dimension)
            throw new ArgumentException($"trigger of {Dimension} features applied to a row of {x.Length} into {dst.Length}");
    }
}

/// <summary>Image corner where a patch trigger sits.</summary>
internal enum TriggerCorner { BottomRight, BottomLeft, TopRight, TopLeft }

/// <summary>
/// BadNets-style patch: a k×k square at a corner of every channel set to value v ∈ [0,1]; other pixels unchanged.
/// </summary>
internal sealed class PatchTrigger : Trigger
{
    public ImageShape Shape { get; }
    /// <summary>Side of the square, in pixels.</summary>
    public int Size { get; }
    /// <summary>Value the patch pixels are set to, in [0,1].</summary>
    public float Value { get; }
    public TriggerCorner Corner { get; }

    public PatchTrigger(ImageShape shape, int size, float value, TriggerCorner corner)
    {
        if (size < 1 || size > shape.Height || size > shape.Width)
            throw SpecException.Invalid("attack.trigger_size", size, $"must be between 1 and the image side ({shape.Height}x{shape.Width})");
        if (!(value >= 0f && value <= 1f)) throw SpecException.Invalid("attack.trigger_value", value, "must be in [0,1]");
        (Shape, Size, Value, Corner) = (shape, size, value, corner);
    }

    public override int Dimension => Shape.Size;

    public override void Apply(Span<float> dst, ReadOnlySpan<float> x)
    {
        CheckDimension(dst, x);
        x.CopyTo(dst);
        int y0 = Corner is TriggerCorner.TopLeft or TriggerCorner.TopRight ? 0 : Shape.Height - Size;
        int x0 = Corner is TriggerCorner.TopLeft or TriggerCorner.BottomLeft ? 0 : Shape.Width - Size;
        for (int c = 0; c < Shape.Channels; c++)
            for (int y = y0; y < y0 + Size; y++)
                dst.Slice((c * Shape.Height + y) * Shape.Width + x0, Size).Fill(Value);
    }

    public override string Describe() => $"patch {Size}x{Size} of {Value:0.###} at {CornerName(Corner)}";

    public static string CornerName(TriggerCorner corner) => corner switch
    {
        TriggerCorner.BottomRight => "bottom-right",
        TriggerCorner.BottomLeft => "bottom-left",
        TriggerCorner.TopRight => "top-right",
        _ => "top-left",
    };
}

/// <summary>Arbitrary pattern: where the mask is set, the feature is replaced by the pattern's value in [0,1].</summary>
internal sealed class MaskTrigger : Trigger
{
    private readonly bool[] _mask;
    private readonly float[] _values;
    /// <summary>Where the source was (file or description), for reports.</summary>
    public string Source { get; }

    /// <param name="mask">Which features the trigger sets, <c>(D)</c>.</param>
    /// <param name="values">Values they are set to, <c>(D)</c>, in [0,1] where masked.</param>
    /// <param name="source">Where the pattern came from.</param>
    public MaskTrigger(bool[] mask, float[] values, string source)
    {
        if (mask.Length != values.Length) throw new ArgumentException("mask and values differ in length");
        for (int i = 0; i < mask.Length; i++)
            if (mask[i] && !(values[i] >= 0f && values[i] <= 1f))
                throw new UserInputException($"{source}: value {values[i]} at feature {i} is not in [0,1]");
        if (!mask.Contains(true)) throw new UserInputException($"{source}: the mask sets no feature");
        (_mask, _values, Source) = ((bool[])mask.Clone(), (float[])values.Clone(), source);
    }

    public override int Dimension => _mask.Length;
    public int MaskedCount => _mask.Count(m => m);

    public override void Apply(Span<float> dst, ReadOnlySpan<float> x)
    {
        CheckDimension(dst, x);
        for (int i = 0; i < x.Length; i++) dst[i] = _mask[i] ? _values[i] : x[i];
    }

    public override string Describe() => $"mask from {Source} ({MaskedCount} features)";

    /// <summary>
    /// Reads a mask file: whitespace- or comma-separated tokens, either one per pixel (H·W, applied to every
    /// channel) or one per feature (D). A token '.' leaves the feature alone; a number in [0,1] sets it.
    /// </summary>
    public static MaskTrigger FromFile(string path, int dimension, ImageShape? shape)
    {
        string text = System.Text.Encoding.UTF8.GetString(DataFiles.ReadAll(path));
        string[] tokens = text.Split([' ', '\t', '\r', '\n', ','], StringSplitOptions.RemoveEmptyEntries);
        int pixels = shape is { } s ? s.Height * s.Width : dimension;
        if (tokens.Length != pixels && tokens.Length != dimension)
            throw new UserInputException(shape is null
                ? $"{path}: {tokens.Length} mask entries; expected {dimension} (one per feature)"
                : $"{path}: {tokens.Length} mask entries; expected {pixels} (one per pixel){(pixels != dimension ? $" or {dimension} (one per feature)" : "")}");
        var mask = new bool[dimension];
        var values = new float[dimension];
        for (int t = 0; t < tokens.Length; t++)
        {
            if (tokens[t] == ".") continue;
            if (!float.TryParse(tokens[t], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float v) || !(v >= 0f && v <= 1f))
                throw new UserInputException($"{path}: entry {t + 1} '{tokens[t]}' is neither '.' nor a number in [0,1]");
            if (tokens.Length == dimension) { mask[t] = true; values[t] = v; continue; }
            for (int c = 0; c < dimension / pixels; c++) { mask[c * pixels + t] = true; values[c * pixels + t] = v; }
        }
        return new MaskTrigger(mask, values, path);
    }
}

/// <summary>
/// Blended random pattern: x' = clip(x + δ, 0, 1) with δ a fixed seeded Gaussian direction scaled to ‖δ‖₂ = t
/// exactly (in double). Clipping can only shrink each coordinate's change, so the actual perturbation is ≤ t.
/// </summary>
internal sealed class BlendTrigger : Trigger
{
    private readonly double[] _pattern; // (D), ‖·‖₂ = Norm

    /// <summary>Requested ℓ2 norm of the pattern before clipping, in input units.</summary>
    public double Norm { get; }
    public ulong Seed { get; }

    public BlendTrigger(int dimension, double norm, ulong seed)
    {
        if (!(norm > 0) || !double.IsFinite(norm)) throw SpecException.Invalid("attack.trigger_norm", norm, "must be a positive number");
        (Norm, Seed) = (norm, seed);
        _pattern = new double[dimension];
        // Gaussian direction from the Philox noise contract on its own model index, so it is reproducible anywhere.
        double sum = 0;
        for (int i = 0; i < dimension; i++)
        {
            _pattern[i] = Noise.BoxMuller.Gaussian(seed, Noise.NoiseStream.TestNoise, uint.MaxValue, uint.MaxValue, (uint)i);
            sum += _pattern[i] * _pattern[i];
        }
        double scale = norm / Math.Sqrt(sum);
        for (int i = 0; i < dimension; i++) _pattern[i] *= scale;
    }

    public override int Dimension => _pattern.Length;

    /// <summary>The pattern δ before clipping, <c>(D)</c>, in input units.</summary>
    public ReadOnlySpan<double> Pattern => _pattern;

    public override void Apply(Span<float> dst, ReadOnlySpan<float> x)
    {
        CheckDimension(dst, x);
        for (int i = 0; i < x.Length; i++) dst[i] = (float)Math.Clamp(x[i] + _pattern[i], 0.0, 1.0);
    }

    public override string Describe() => $"blended random pattern, l2 norm {Norm:0.####} before clipping, seed {Seed}";
}
