namespace NativeCert.Engine.Reference;

/// <summary>
/// Scalar oracle of the image layers, in the style of <see cref="ReferenceMlp"/>: outputs first, inputs next, sizes
/// last; sums in double, rounded to float once; gradients overwritten. Activations are <c>(B, C, H, W)</c> row-major
/// (each example channel-major, as datasets store images). Letters: CI/CO input/output channels, H×W input, OH×OW output,
/// K kernel edge, P zero padding.
/// </summary>
internal static class ReferenceConv
{
    /// <summary>output[b, co, y, x] = bias[co] + Σ_{ci, ky, kx} weight[co, ci, ky, kx]·input[b, ci, y + ky − P, x + kx − P] (0 outside).</summary>
    public static void Conv2dForward(Span<float> output /*(B,CO,OH,OW)*/, ReadOnlySpan<float> input /*(B,CI,H,W)*/,
        ReadOnlySpan<float> weight /*(CO,CI,K,K)*/, ReadOnlySpan<float> bias /*(CO)*/, int B, int CI, int H, int W, int CO, int K, int P)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1;
        for (int b = 0; b < B; b++)
            for (int co = 0; co < CO; co++)
                for (int y = 0; y < OH; y++)
                    for (int x = 0; x < OW; x++)
                    {
                        double sum = bias[co];
                        for (int ci = 0; ci < CI; ci++)
                            for (int ky = 0; ky < K; ky++)
                            {
                                int iy = y + ky - P;
                                if ((uint)iy >= (uint)H) continue;
                                for (int kx = 0; kx < K; kx++)
                                {
                                    int ix = x + kx - P;
                                    if ((uint)ix >= (uint)W) continue;
                                    sum += (double)weight[((co * CI + ci) * K + ky) * K + kx] * input[((b * CI + ci) * H + iy) * W + ix];
                                }
                            }
                        output[((b * CO + co) * OH + y) * OW + x] = (float)sum;
                    }
    }

    /// <summary>
    /// Backward of <see cref="Conv2dForward"/>: dinput (skipped when empty, as for the first layer), dweight
    /// = Σ_b doutput ⋆ input, dbias[co] = Σ_{b, y, x} doutput[b, co, y, x].
    /// </summary>
    public static void Conv2dBackward(Span<float> dinput /*(B,CI,H,W) or empty*/, Span<float> dweight /*(CO,CI,K,K)*/, Span<float> dbias /*(CO)*/,
        ReadOnlySpan<float> doutput /*(B,CO,OH,OW)*/, ReadOnlySpan<float> input /*(B,CI,H,W)*/, ReadOnlySpan<float> weight /*(CO,CI,K,K)*/,
        int B, int CI, int H, int W, int CO, int K, int P)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1;
        if (!dinput.IsEmpty)
            for (int b = 0; b < B; b++)
                for (int ci = 0; ci < CI; ci++)
                    for (int iy = 0; iy < H; iy++)
                        for (int ix = 0; ix < W; ix++)
                        {
                            double sum = 0;
                            for (int co = 0; co < CO; co++)
                                for (int ky = 0; ky < K; ky++)
                                {
                                    int y = iy + P - ky;
                                    if ((uint)y >= (uint)OH) continue;
                                    for (int kx = 0; kx < K; kx++)
                                    {
                                        int x = ix + P - kx;
                                        if ((uint)x >= (uint)OW) continue;
                                        sum += (double)weight[((co * CI + ci) * K + ky) * K + kx] * doutput[((b * CO + co) * OH + y) * OW + x];
                                    }
                                }
                            dinput[((b * CI + ci) * H + iy) * W + ix] = (float)sum;
                        }
        for (int co = 0; co < CO; co++)
        {
            for (int ci = 0; ci < CI; ci++)
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++)
                    {
                        double sum = 0;
                        for (int b = 0; b < B; b++)
                            for (int y = 0; y < OH; y++)
                            {
                                int iy = y + ky - P;
                                if ((uint)iy >= (uint)H) continue;
                                for (int x = 0; x < OW; x++)
                                {
                                    int ix = x + kx - P;
                                    if ((uint)ix >= (uint)W) continue;
                                    sum += (double)doutput[((b * CO + co) * OH + y) * OW + x] * input[((b * CI + ci) * H + iy) * W + ix];
                                }
                            }
                        dweight[((co * CI + ci) * K + ky) * K + kx] = (float)sum;
                    }
            double bsum = 0;
            for (int b = 0; b < B; b++)
                for (int i = 0; i < OH * OW; i++) bsum += doutput[(b * CO + co) * OH * OW + i];
            dbias[co] = (float)bsum;
        }
    }

    /// <summary>2×2 max pooling, stride 2: output[b, c, y, x] = max of input[b, c, 2y…2y+1, 2x…2x+1]; OH = ⌊H/2⌋, OW = ⌊W/2⌋.</summary>
    public static void MaxPool2dForward(Span<float> output /*(B,C,OH,OW)*/, ReadOnlySpan<float> input /*(B,C,H,W)*/, int B, int C, int H, int W)
    {
        int OH = H / 2, OW = W / 2;
        for (int bc = 0; bc < B * C; bc++)
            for (int y = 0; y < OH; y++)
                for (int x = 0; x < OW; x++)
                    output[(bc * OH + y) * OW + x] = input[WindowArgmax(input, bc, y, x, H, W)];
    }

    /// <summary>
    /// Backward of <see cref="MaxPool2dForward"/>: each window's gradient goes to its maximum, the first in row-major
    /// window order on ties; every other input gets 0 (including a dropped odd row or column).
    /// </summary>
    public static void MaxPool2dBackward(Span<float> dinput /*(B,C,H,W)*/, ReadOnlySpan<float> doutput /*(B,C,OH,OW)*/,
        ReadOnlySpan<float> input /*(B,C,H,W)*/, int B, int C, int H, int W)
    {
        int OH = H / 2, OW = W / 2;
        dinput[..(B * C * H * W)].Clear();
        for (int bc = 0; bc < B * C; bc++)
            for (int y = 0; y < OH; y++)
                for (int x = 0; x < OW; x++)
                    dinput[WindowArgmax(input, bc, y, x, H, W)] = doutput[(bc * OH + y) * OW + x];
    }

    /// <summary>Flat index of the largest of the window's four inputs (first of equals in order (0,0), (0,1), (1,0), (1,1)).</summary>
    public static int WindowArgmax(ReadOnlySpan<float> input, int plane, int y, int x, int H, int W)
    {
        int top = (plane * H + 2 * y) * W + 2 * x;
        int best = top;
        foreach (int i in (ReadOnlySpan<int>)[top + 1, top + W, top + W + 1])
            if (input[i] > input[best]) best = i;
        return best;
    }
}
