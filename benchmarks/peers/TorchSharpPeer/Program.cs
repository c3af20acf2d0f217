// libtorch peer of `nativecert bench`, through TorchSharp-cpu (libtorch with MKL): trains the same noisy ensemble
// as the engine (MLP 784-H-10, ReLU, softmax cross-entropy, He normal init, zero biases, SGD momentum 0.9 + weight
// decay 5e-4 on every parameter, lr 0.1, batch 128, one noisy copy of the training set per model drawn once and
// kept for all epochs, a fresh shuffle per epoch) two ways and prints one JSON line of model-epochs/s:
//   sequential: one model after another, nn.Linear layers + optim.SGD, the usual way;
//   batched:    all models at once, weights (M, in, out), one bmm per layer, each model with its own noisy
//               copy and shuffle (the loss is the sum of the models' mean losses, so each gets its own gradient).
// With --model lenet it trains the LeNet ensemble of `nativecert bench --model lenet` instead (conv 5×5×16, ReLU,
// maxpool 2, conv 5×5×32, ReLU, maxpool 2, dense 128, ReLU, dense 10; lr 0.05):
//   sequential: one model after another, nn.Conv2d/nn.Linear + optim.SGD;
//   grouped:    all models at once, model m's channels are group m of every convolution, dense layers as bmm.
// Run by benchmarks/peers/torch_ensemble.py --torchsharp (torch_lenet_ensemble.py --torchsharp for LeNet) (which builds this, marks GLIBCXX_3.4.32 weak in a copy of
// libLibTorchSharp.so for Debian 12, and runs `nativecert bench` in the same run), or by hand:
//   dotnet build -c Release benchmarks/peers/TorchSharpPeer && python3 benchmarks/peers/weak_glibcxx.py benchmarks/peers/TorchSharpPeer/bin/Release/net10.0
//   dotnet benchmarks/peers/TorchSharpPeer/bin/Release/net10.0/TorchSharpPeer.dll --models 8 --epochs 5 --threads 2 [--data DIR]
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

const double Momentum = 0.9, WeightDecay = 5e-4;
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
bool lenet = opts.GetValueOrDefault("model", "mlp") switch
{
    "mlp" => false,
    "lenet" => true,
    var other => throw new ArgumentException($"--model: {other} is not mlp or lenet"),
};
double LearningRate = lenet ? 0.05 : 0.1; // = TrainingDefaults for an MLP / any other model
string only = opts.GetValueOrDefault("variants", lenet ? "sequential,grouped" : "sequential,batched");

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
    ["model"] = lenet ? "lenet" : "mlp",
};
foreach (var variant in only.Split(','))
{
    Action<Tensor, Tensor, int, int> run = variant switch
    {
        "sequential" when lenet => TrainLeNetSequential,
        "grouped" when lenet => TrainLeNetGrouped,
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

torch.nn.Module<Tensor, Tensor> Mlp()
{
    var layers = new List<(string, torch.nn.Module<Tensor, Tensor>)>();
    for (int l = 0; l + 1 < widths.Length; l++)
    {
        var lin = torch.nn.Linear(widths[l], widths[l + 1]);
        torch.nn.init.kaiming_normal_(lin.weight, nonlinearity: torch.nn.init.NonlinearityType.ReLU); // He normal, √(2/in)
        torch.nn.init.zeros_(lin.bias);
        layers.Add(($"linear{l}", lin));
        if (l + 2 < widths.Length) layers.Add(($"relu{l}", torch.nn.ReLU()));
    }
    return torch.nn.Sequential(layers);
}

void TrainSequential(Tensor xs, Tensor ys, int count, int epochCount) => TrainOneByOne(xs, ys, count, epochCount, Mlp, [784]);

// One model after another, the usual way: `make` builds a fresh model, rows are viewed as `rowShape` (e.g. 1×28×28).
void TrainOneByOne(Tensor xs, Tensor ys, int count, int epochCount, Func<torch.nn.Module<Tensor, Tensor>> make, long[] rowShape)
{
    var gen = new torch.Generator(0);
    long n = xs.shape[0];
    for (int m = 0; m < count; m++)
    {
        using var modelScope = torch.NewDisposeScope();
        var noisy = (sigma > 0 ? xs + sigma * torch.randn(xs.shape, generator: gen) : xs).view([n, .. rowShape]); // drawn once per model
        var net = make();
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
    var noisy = NoisyCopies(xs, count, gen);
    var parameters = new List<TorchSharp.Modules.Parameter>();
    for (int l = 0; l + 1 < widths.Length; l++)
    {
        parameters.Add(new TorchSharp.Modules.Parameter(torch.randn([count, widths[l], widths[l + 1]], generator: gen) * Math.Sqrt(2.0 / widths[l])));
        parameters.Add(new TorchSharp.Modules.Parameter(torch.zeros(count, 1, widths[l + 1])));
    }
    TrainAllAtOnce(noisy, ys, count, epochCount, gen, parameters, (rows, B) =>
    {
        var h = rows.view(count, B, 784); // (M, B, D)
        for (int p = 0; p < parameters.Count; p += 2)
        {
            h = h.bmm(parameters[p]) + parameters[p + 1];
            if (p + 2 < parameters.Count) h = torch.nn.functional.relu(h);
        }
        return h;
    });
}

// One noisy copy of the training set per model, drawn once for all epochs: (M·n, D), model m's rows at m·n.
Tensor NoisyCopies(Tensor xs, int M, torch.Generator gen) =>
    (xs.unsqueeze(0) + sigma * torch.randn([M, xs.shape[0], 784], generator: gen)).view(M * xs.shape[0], 784);

// The batched epoch loop both all-at-once variants share: a permutation per model and epoch, each step gathers every
// model's batch rows (M·B, D) and `forward` maps them to (M, B, 10) logits; summed cross-entropy / B, one SGD step.
void TrainAllAtOnce(Tensor noisy, Tensor ys, int M, int epochCount, torch.Generator gen,
                    IEnumerable<TorchSharp.Modules.Parameter> parameters, Func<Tensor, long, Tensor> forward)
{
    long n = ys.shape[0];
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
            var h = forward(noisy.index_select(0, (idx + offsets).flatten()), B);
            var loss = torch.nn.functional.cross_entropy(h.reshape(-1, 10), ys.index_select(0, idx.flatten()), reduction: torch.nn.Reduction.Sum) / B;
            opt.zero_grad();
            loss.backward();
            opt.step();
        }
    }
}

torch.nn.Module<Tensor, Tensor> LeNet()
{
    var conv1 = torch.nn.Conv2d(1, 16, 5);
    var conv2 = torch.nn.Conv2d(16, 32, 5);
    var fc1 = torch.nn.Linear(512, 128);
    var fc2 = torch.nn.Linear(128, 10);
    foreach (var (w, b) in new[] { (conv1.weight!, conv1.bias!), (conv2.weight!, conv2.bias!), (fc1.weight!, fc1.bias!), (fc2.weight!, fc2.bias!) })
    {
        torch.nn.init.kaiming_normal_(w, nonlinearity: torch.nn.init.NonlinearityType.ReLU); // √(2 / fan-in), fan-in k·k·C_in for a conv
        torch.nn.init.zeros_(b);
    }
    return torch.nn.Sequential(
        ("conv1", conv1), ("relu1", torch.nn.ReLU()), ("pool1", torch.nn.MaxPool2d(2)),
        ("conv2", conv2), ("relu2", torch.nn.ReLU()), ("pool2", torch.nn.MaxPool2d(2)),
        ("flatten", torch.nn.Flatten()), ("fc1", fc1), ("relu3", torch.nn.ReLU()), ("fc2", fc2));
}

void TrainLeNetSequential(Tensor xs, Tensor ys, int count, int epochCount) => TrainOneByOne(xs, ys, count, epochCount, LeNet, [1, 28, 28]);

void TrainLeNetGrouped(Tensor xs, Tensor ys, int count, int epochCount)
{
    var gen = new torch.Generator(0);
    int M = count;
    var noisy = NoisyCopies(xs, M, gen);
    TorchSharp.Modules.Parameter He(long[] shape, int fanIn) => new(torch.randn(shape, generator: gen) * Math.Sqrt(2.0 / fanIn));
    var w1 = He([M * 16, 1, 5, 5], 25); var b1 = new TorchSharp.Modules.Parameter(torch.zeros(M * 16));
    var w2 = He([M * 32, 16, 5, 5], 400); var b2 = new TorchSharp.Modules.Parameter(torch.zeros(M * 32));
    var w3 = He([M, 512, 128], 512); var b3 = new TorchSharp.Modules.Parameter(torch.zeros(M, 1, 128));
    var w4 = He([M, 128, 10], 128); var b4 = new TorchSharp.Modules.Parameter(torch.zeros(M, 1, 10));
    TrainAllAtOnce(noisy, ys, M, epochCount, gen, [w1, b1, w2, b2, w3, b3, w4, b4], (rows, B) =>
    {
        var h = rows.view(M, B, 28, 28).transpose(0, 1); // (B, M, 28, 28): model m = channel m
        h = torch.nn.functional.max_pool2d(torch.nn.functional.relu(torch.nn.functional.conv2d(h, w1, b1, groups: M)), [2, 2]);
        h = torch.nn.functional.max_pool2d(torch.nn.functional.relu(torch.nn.functional.conv2d(h, w2, b2, groups: M)), [2, 2]);
        h = h.reshape(B, M, 512).transpose(0, 1);                 // (M, B, 512), channel-major per model
        return torch.nn.functional.relu(h.bmm(w3) + b3).bmm(w4) + b4; // (M, B, 10)
    });
}
