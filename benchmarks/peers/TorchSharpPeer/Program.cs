// libtorch peer of `nativecert bench`, through TorchSharp-cpu (libtorch with MKL): trains the same noisy ensemble
// as the engine (MLP 784-H-10, ReLU, softmax cross-entropy, He normal init, zero biases, SGD momentum 0.9 + weight
// decay 5e-4 on every parameter, lr 0.1, batch 128, one noisy copy of the training set per model drawn once and
// kept for all epochs, a fresh shuffle per epoch) two ways and prints one JSON line of model-epochs/s:
//   sequential: one model after another, nn.Linear layers + optim.SGD, the usual way;
//   batched:    all models at once, weights (M, in, out), one bmm per layer, each model with its own noisy
//               copy and shuffle (the loss is the sum of the models' mean losses, so each gets its own gradient).
// Run by benchmarks/peers/torch_ensemble.py --torchsharp (which builds this, marks GLIBCXX_3.4.32 weak in a copy of
// libLibTorchSharp.so for Debian 12, and runs `nativecert bench` in the same run), or by hand:
//   dotnet build -c Release benchmarks/peers/TorchSharpPeer && python3 benchmarks/peers/weak_glibcxx.py benchmarks/peers/TorchSharpPeer/bin/Release/net10.0
//   dotnet benchmarks/peers/TorchSharpPeer/bin/Release/net10.0/TorchSharpPeer.dll --models 8 --epochs 5 --threads 2 [--data DIR]
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

const double LearningRate = 0.1, Momentum = 0.9, WeightDecay = 5e-4;
const int Batch = 128;

var opts = new Dictionary<string, string>();
for (int i = 0; i + 1 < args.Length; i += 2) opts[args[i].TrimStart('-')] = args[i + 1];
int models = int.Parse(opts.GetValueOrDefault("models", "8"), CultureInfo.InvariantCulture);
int epochs = int.Parse(opts.GetValueOrDefault("epochs", "5"), CultureInfo.InvariantCulture);
int threads = int.Parse(opts.GetValueOrDefault("threads", Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
float sigma = float.Parse(opts.GetValueOrDefault("sigma", "0.25"), CultureInfo.InvariantCulture);
int examples = int.Parse(opts.GetValueOrDefault("examples", "8000"), CultureInfo.InvariantCulture);
int[] hidden = opts.GetValueOrDefault("hidden", "128").Split(',').Select(h => int.Parse(h, CultureInfo.InvariantCulture)).ToArray();
string? data = opts.GetValueOrDefault("data");
string only = opts.GetValueOrDefault("variants", "sequential,batched");

torch.set_num_threads(threads);
torch.set_num_interop_threads(1);
var (x, y) = Load(data, examples);
int[] widths = [784, .. hidden, 10];

var results = new Dictionary<string, object>
{
    ["peer"] = "torchsharp",
    ["torchsharp"] = typeof(torch).Assembly.GetName().Version?.ToString() ?? "",
    ["libtorch"] = torch.__version__,
    ["threads"] = threads,
    ["models"] = models,
    ["epochs"] = epochs,
};
foreach (var variant in only.Split(','))
{
    Action<Tensor, Tensor, int, int> run = variant switch
    {
        "sequential" => TrainSequential,
        "batched" => TrainBatched,
        _ => throw new ArgumentException($"--variants: unknown variant {variant}"),
    };
    using (var warm = torch.NewDisposeScope()) run(x[..1024], y[..1024], Math.Min(2, models), 1); // warm-up
    var process = Process.GetCurrentProcess();
    var cpu0 = process.TotalProcessorTime;
    var sw = Stopwatch.StartNew();
    using (var scope = torch.NewDisposeScope()) run(x, y, models, epochs);
    double seconds = sw.Elapsed.TotalSeconds;
    process.Refresh();
    double cpuSeconds = (process.TotalProcessorTime - cpu0).TotalSeconds;
    results[$"torchsharp_{variant}"] = Math.Round(models * epochs / seconds, 3);
    results[$"torchsharp_{variant}_seconds"] = Math.Round(seconds, 3);
    results[$"torchsharp_{variant}_cpu_seconds"] = Math.Round(cpuSeconds, 3); // all threads, spin-waits included
}
Console.WriteLine(JsonSerializer.Serialize(results));
return 0;

(Tensor, Tensor) Load(string? directory, int n)
{
    if (directory == null)
    {
        var rng = new Random(1);
        var features = new float[n * 784];
        for (int i = 0; i < features.Length; i++) features[i] = rng.NextSingle();
        var labels = new long[n];
        for (int i = 0; i < n; i++) labels[i] = rng.Next(10);
        return (torch.tensor(features, [n, 784]), torch.tensor(labels, [n]));
    }
    var xb = File.ReadAllBytes(Path.Combine(directory, "train_x.f32"));
    var yb = File.ReadAllBytes(Path.Combine(directory, "train_y.i32"));
    n = Math.Min(n, yb.Length / 4);
    var xs = new float[n * 784];
    Buffer.BlockCopy(xb, 0, xs, 0, xs.Length * 4);
    var ys = new long[n];
    for (int i = 0; i < n; i++) ys[i] = BitConverter.ToInt32(yb, 4 * i);
    return (torch.tensor(xs, [n, 784]), torch.tensor(ys, [n]));
}

void TrainSequential(Tensor xs, Tensor ys, int count, int epochCount)
{
    var gen = new torch.Generator(0);
    long n = xs.shape[0];
    for (int m = 0; m < count; m++)
    {
        using var modelScope = torch.NewDisposeScope();
        var noisy = sigma > 0 ? xs + sigma * torch.randn(xs.shape, generator: gen) : xs; // drawn once per model
        var layers = new List<(string, torch.nn.Module<Tensor, Tensor>)>();
        for (int l = 0; l + 1 < widths.Length; l++)
        {
            var lin = torch.nn.Linear(widths[l], widths[l + 1]);
            torch.nn.init.kaiming_normal_(lin.weight, nonlinearity: torch.nn.init.NonlinearityType.ReLU); // He normal, √(2/in)
            torch.nn.init.zeros_(lin.bias);
            layers.Add(($"linear{l}", lin));
            if (l + 2 < widths.Length) layers.Add(($"relu{l}", torch.nn.ReLU()));
        }
        var net = torch.nn.Sequential(layers);
        var opt = torch.optim.SGD(net.parameters(), LearningRate, momentum: Momentum, weight_decay: WeightDecay);
        for (int e = 0; e < epochCount; e++)
        {
            var perm = torch.randperm(n, generator: gen);
            for (long s = 0; s < n; s += Batch)
            {
                using var step = torch.NewDisposeScope();
                var idx = perm.narrow(0, s, Math.Min(Batch, n - s));
                opt.zero_grad();
                torch.nn.functional.cross_entropy(net.call(noisy.index_select(0, idx)), ys.index_select(0, idx)).backward();
                opt.step();
            }
        }
    }
}

void TrainBatched(Tensor xs, Tensor ys, int count, int epochCount)
{
    var gen = new torch.Generator(0);
    long n = xs.shape[0];
    int M = count;
    var noisy = (xs.unsqueeze(0) + sigma * torch.randn([M, n, 784], generator: gen)).view(M * n, 784); // (M·n, D)
    var parameters = new List<TorchSharp.Modules.Parameter>();
    for (int l = 0; l + 1 < widths.Length; l++)
    {
        parameters.Add(new TorchSharp.Modules.Parameter(torch.randn([M, widths[l], widths[l + 1]], generator: gen) * Math.Sqrt(2.0 / widths[l])));
        parameters.Add(new TorchSharp.Modules.Parameter(torch.zeros(M, 1, widths[l + 1])));
    }
    var opt = torch.optim.SGD(parameters, LearningRate, momentum: Momentum, weight_decay: WeightDecay);
    var offsets = (torch.arange(M) * n).unsqueeze(1); // (M, 1): row offset of model m's copy
    for (int e = 0; e < epochCount; e++)
    {
        using var epochScope = torch.NewDisposeScope();
        var perms = torch.stack(Enumerable.Range(0, M).Select(_ => torch.randperm(n, generator: gen)).ToArray()); // (M, n)
        for (long s = 0; s < n; s += Batch)
        {
            using var step = torch.NewDisposeScope();
            var idx = perms.narrow(1, s, Math.Min(Batch, n - s));     // (M, B)
            long B = idx.shape[1];
            var h = noisy.index_select(0, (idx + offsets).flatten()).view(M, B, 784); // (M, B, D)
            for (int p = 0; p < parameters.Count; p += 2)
            {
                h = h.bmm(parameters[p]) + parameters[p + 1];
                if (p + 2 < parameters.Count) h = torch.nn.functional.relu(h);
            }
            var loss = torch.nn.functional.cross_entropy(h.reshape(-1, 10), ys.index_select(0, idx.flatten()), reduction: torch.nn.Reduction.Sum) / B;
            opt.zero_grad();
            loss.backward();
            opt.step();
        }
    }
}
