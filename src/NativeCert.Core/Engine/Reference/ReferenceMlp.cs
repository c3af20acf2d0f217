namespace NativeCert.Engine.Reference;

/// <summary>
/// The scalar oracle for every backend: one free function per layer and direction (llm.c style), outputs
/// first, inputs next, sizes last. Sums accumulate in double so the reference is closer to exact than any
/// fast path; results are rounded to float once. Letters: B batch rows, IN/OUT layer widths, C classes.
/// Gradients (prefix d) are overwritten, not accumulated.
/// </summary>
internal static class ReferenceMlp
{
    /// <summary>output = input · weight + bias.</summary>
    public static void MatmulForward(Span<float> output /*(B,OUT)*/, ReadOnlySpan<float> input /*(B,IN)*/,
        ReadOnlySpan<float> weight /*(IN,OUT)*/, ReadOnlySpan<float> bias /*(OUT)*/, int B, int IN, int OUT)
    {
        for (int b = 0; b < B; b++)
            for (int o = 0; o < OUT; o++)
            {
                double sum = bias[o];
                for (int k = 0; k < IN; k++) sum += (double)input[b * IN + k] * weight[k * OUT + o];
                output[b * OUT + o] = (float)sum;
            }
    }

    /// <summary>output = max(input, 0); output may alias input.</summary>
    public static void ReluForward(Span<float> output /*(N)*/, ReadOnlySpan<float> input /*(N)*/, int N)
    {
        for (int i = 0; i < N; i++) output[i] = input[i] > 0 ? input[i] : 0f;
    }

    /// <summary>dinput = doutput where the ReLU output was positive, else 0; dinput may alias doutput.</summary>
    public static void ReluBackward(Span<float> dinput /*(N)*/, ReadOnlySpan<float> doutput /*(N)*/, ReadOnlySpan<float> output /*(N)*/, int N)
    {
        for (int i = 0; i < N; i++) dinput[i] = output[i] > 0 ? doutput[i] : 0f;
    }

    /// <summary>
    /// Softmax cross-entropy: losses[b] = −log softmax(logits[b])[labels[b]] (nats) and
    /// dlogits = (softmax − onehot) / B, the gradient of the MEAN loss over the batch.
    /// </summary>
    public static void SoftmaxCrossEntropyBackward(Span<float> dlogits /*(B,C)*/, Span<float> losses /*(B)*/,
        ReadOnlySpan<float> logits /*(B,C)*/, ReadOnlySpan<int> labels /*(B)*/, int B, int C)
    {
        for (int b = 0; b < B; b++)
        {
            var row = logits.Slice(b * C, C);
            double max = double.NegativeInfinity;
            for (int c = 0; c < C; c++) max = Math.Max(max, row[c]);
            double sum = 0;
            for (int c = 0; c < C; c++) sum += Math.Exp(row[c] - max);
            int y = labels[b];
            losses[b] = (float)(Math.Log(sum) - (row[y] - max));
            for (int c = 0; c < C; c++)
            {
                double p = Math.Exp(row[c] - max) / sum;
                dlogits[b * C + c] = (float)((p - (c == y ? 1.0 : 0.0)) / B);
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="MatmulForward"/>: dinput = doutput · weightᵀ (skipped when dinput is empty,
    /// as for the first layer), dweight = inputᵀ · doutput, dbias = Σ_b doutput.
    /// </summary>
    public static void MatmulBackward(Span<float> dinput /*(B,IN) or empty*/, Span<float> dweight /*(IN,OUT)*/, Span<float> dbias /*(OUT)*/,
        ReadOnlySpan<float> doutput /*(B,OUT)*/, ReadOnlySpan<float> input /*(B,IN)*/, ReadOnlySpan<float> weight /*(IN,OUT)*/,
        int B, int IN, int OUT)
    {
        if (!dinput.IsEmpty)
            for (int b = 0; b < B; b++)
                for (int k = 0; k < IN; k++)
                {
                    double sum = 0;
                    for (int o = 0; o < OUT; o++) sum += (double)doutput[b * OUT + o] * weight[k * OUT + o];
                    dinput[b * IN + k] = (float)sum;
                }
        for (int k = 0; k < IN; k++)
            for (int o = 0; o < OUT; o++)
            {
                double sum = 0;
                for (int b = 0; b < B; b++) sum += (double)input[b * IN + k] * doutput[b * OUT + o];
                dweight[k * OUT + o] = (float)sum;
            }
        for (int o = 0; o < OUT; o++)
        {
            double sum = 0;
            for (int b = 0; b < B; b++) sum += doutput[b * OUT + o];
            dbias[o] = (float)sum;
        }
    }

    /// <summary>
    /// SGD with momentum and weight decay, PyTorch semantics, in float: g = gradient + λ·w; v = μ·v + g; w −= η·v.
    /// </summary>
    public static void SgdMomentumUpdate(Span<float> parameters, Span<float> velocity, ReadOnlySpan<float> gradients,
        float learningRate, float momentum, float weightDecay)
    {
        for (int i = 0; i < parameters.Length; i++)
        {
            float g = gradients[i] + weightDecay * parameters[i];
            float v = momentum * velocity[i] + g;
            velocity[i] = v;
            parameters[i] -= learningRate * v;
        }
    }

    /// <summary>Index of the largest value, the lowest index on ties (NaN never wins).</summary>
    public static int Argmax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }
}
