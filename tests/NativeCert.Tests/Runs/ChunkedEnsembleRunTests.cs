using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Runs;

namespace NativeCert.Tests.Runs;

public sealed class ChunkedEnsembleRunTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-chunks-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly EnsembleConfig Config = new(ModelArchitecture.Mlp(2, [4], 3), new TrainingOptions(1, 4, 0.1f, 0.9f, 0f), 0.5f, 42);
    private static readonly Dataset Train = new(new float[8], [0, 1, 2, 0], 2, 3, null, "train");
    private static readonly Dataset Inputs = new(new float[10], [0, 1, 2, 1, 0], 2, 3, null, "inputs");

    private static VoteFile NewVotes(int selection = 0) =>
        new(new byte[32], Inputs.Labels, new InputKind[Inputs.Count], Inputs.ClassCount, selection);

    [Theory]
    [InlineData(0, 5)]
    [InlineData(4, 5)]
    [InlineData(0, 0)]
    public void ChunkedCountsEqualOneCall(int selection, int chunk)
    {
        var whole = new VoteCounts(Inputs.Count, 3);
        using var backend = new FakeEnsembleBackend();
        backend.Run(Config, Train, Inputs, 0, 37, whole);

        var votes = NewVotes(selection);
        string path = Path.Combine(_dir, "votes.bin");
        using var chunked = new FakeEnsembleBackend();
        ChunkedEnsembleRun.Run(chunked, Config, Train, Inputs, votes, 37, chunk, path);
        var sum = votes.Selection.Clone();
        sum.Add(votes.Estimation);
        Assert.Equal(whole.Counts, sum.Counts);
        Assert.Equal(37, VoteFile.Read(path).ModelsDone);
        Assert.All(chunked.Ranges, r => Assert.False(r.Start < selection && r.End > selection));
        if (chunk > 0) Assert.Equal((selection + chunk - 1) / chunk + (37 - selection + chunk - 1) / chunk, chunked.Calls);
        if (selection > 0) Assert.Equal(selection, votes.Selection.Total(0));
    }

    [Fact]
    public void CancelledRunResumesFromTheLastChunkToIdenticalBytes()
    {
        string full = Path.Combine(_dir, "full.bin"), part = Path.Combine(_dir, "part.bin");
        using var backend = new FakeEnsembleBackend();
        ChunkedEnsembleRun.Run(backend, Config, Train, Inputs, NewVotes(), 23, 4, full);

        using var cts = new CancellationTokenSource();
        var progress = new ProgressReporter(TextWriter.Null, false, 23, 0);
        var votes = NewVotes();
        // Cancel in the middle of the third chunk: the file must hold exactly two chunks.
        var cancelling = new CancelAt(cts, 10);
        Assert.ThrowsAny<OperationCanceledException>(() =>
            ChunkedEnsembleRun.Run(new CancellingBackend(backend, cancelling), Config, Train, Inputs, votes, 23, 4, part, progress, cts.Token));
        var onDisk = VoteFile.Read(part);
        Assert.Equal(8, onDisk.ModelsDone);

        ChunkedEnsembleRun.Run(backend, Config, Train, Inputs, onDisk, 23, 4, part);
        Assert.Equal(File.ReadAllBytes(full), File.ReadAllBytes(part));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void AutomaticChunksAreMultiplesOfTheModelsTrainedAtOnce(int parallel)
    {
        // Models slower than the chunk target: sizing by time alone gives chunks of one model, which left all but
        // one CPU thread idle; every chunk but the run's last must be a multiple of the backend's parallelism.
        VoteFile votes = NewVotes();
        using var slow = new SlowBackend(parallel);
        ChunkedEnsembleRun.Run(slow, Config, Train, Inputs, votes, 20, 0, Path.Combine(_dir, $"slow{parallel}.bin"), chunkTarget: TimeSpan.FromTicks(1));
        Assert.Equal(20, votes.ModelsDone);
        Assert.True(slow.Ranges.Count > 2);
        Assert.All(slow.Ranges.SkipLast(1), r => Assert.Equal(0, (r.End - r.Start) % parallel));
        Assert.Equal(parallel, slow.Ranges[1].End - slow.Ranges[1].Start); // the smallest chunk once sized by time
    }

    private sealed class SlowBackend(int parallel) : IEnsembleBackend
    {
        private readonly FakeEnsembleBackend _inner = new();
        public List<(int Start, int End)> Ranges => _inner.Ranges;
        public string Name => _inner.Name;
        public string Device => _inner.Device;
        public int ModelsInParallel => parallel;
        public void Run(EnsembleConfig config, Dataset train, Dataset inputs, int modelStart, int modelEnd, VoteCounts votes,
                        IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
        {
            Thread.Sleep(2 * (modelEnd - modelStart));
            _inner.Run(config, train, inputs, modelStart, modelEnd, votes, progress, cancellation);
        }
        public void Dispose() { }
    }

    [Fact]
    public void MoreModelsDoneThanAskedIsAUserError()
    {
        var votes = NewVotes();
        using var backend = new FakeEnsembleBackend();
        ChunkedEnsembleRun.Run(backend, Config, Train, Inputs, votes, 6, 0, Path.Combine(_dir, "v.bin"));
        Assert.Contains("smoothing.models", Assert.Throws<UserInputException>(() =>
            ChunkedEnsembleRun.Run(backend, Config, Train, Inputs, votes, 5, 0, Path.Combine(_dir, "v.bin"))).Message);
    }

    private sealed class CancelAt(CancellationTokenSource cts, int model)
    {
        public void Check(int m) { if (m >= model) cts.Cancel(); }
    }

    private sealed class CancellingBackend(IEnsembleBackend inner, CancelAt cancel) : IEnsembleBackend
    {
        public string Name => inner.Name;
        public string Device => inner.Device;
        public void Run(EnsembleConfig config, Dataset train, Dataset inputs, int modelStart, int modelEnd, VoteCounts votes,
                        IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
        {
            for (int m = modelStart; m < modelEnd; m++)
            {
                cancel.Check(m);
                cancellation.ThrowIfCancellationRequested();
                inner.Run(config, train, inputs, m, m + 1, votes, null, cancellation);
            }
        }
        public void Dispose() { }
    }
}
