namespace NativeCert.Engine.Cpu;

/// <summary>
/// Lends a worker thread that has no model left to another worker's model, so the last models of a run do not run
/// alone while the other cores sit idle (with 8 models on 2 threads the last one often did: 0.004–0.115 s idle at the
/// end of a 0.5 s `bench`). The owner (<see cref="CpuTrainer"/>) splits its noisy copy, its first layer's two GEMMs and
/// its SGD step in two by rows (<see cref="Split"/>): it runs part 0, the helper part 1 (<see cref="Serve"/>). Each
/// element is computed by the same instructions as without a helper (a noise row depends only on its index, a GEMM's
/// element is one FMA chain over its whole reduction whichever rows its block holds, the SGD step is elementwise), so
/// the model's bits never depend on whether, or from which step on, it was helped.
/// One instance per owner per run; at most one helper claims it (<see cref="TryClaim"/>). The two threads meet by
/// spinning on a sequence number (a part is 10–70 µs: a futex wake costs more than that on a VM), so assists are only
/// made where each worker has a core of its own. The spin backs off to yielding the core, never to sleeping, and part
/// 1 goes to whichever thread takes it first: when another process has the helper's core (two jobs on one machine, a
/// shared cluster node), the owner does part 1 itself rather than wait, so a helper never makes its owner slower.
/// `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- ab assist 7 8 2`, two at once on 2 cores:
/// 0.993–0.998× the time unhelped, where an owner that always waited took 1.10–1.16×.
/// </summary>
internal sealed class CpuAssist
{
    private volatile int _claimed;   // 1 once a helper serves this owner
    private volatile bool _closed;   // the owner has no more work: a helper returns
    private volatile int _posted;    // sequence of the last part posted (the owner writes it, after _work and _phase)
    private volatile int _completed; // sequence of the last part the helper finished (the helper writes it)
    private int _taken;              // sequence of the last part 1 someone took (Interlocked: the helper, or the owner itself)
    private IAssistedWork? _owner;
    private int _work;
    private CpuPhase _phase;
    private Exception? _error;

    /// <summary>Whether a helper serves this owner: the owner's next <see cref="Split"/> runs part 1 there.</summary>
    public bool Helped => _claimed != 0;

    /// <summary>A helper takes this owner, unless it is closed or another helper has it.</summary>
    public bool TryClaim() => !_closed && Interlocked.CompareExchange(ref _claimed, 1, 0) == 0;

    /// <summary>
    /// Owner: part 0 of <paramref name="work"/> here and part 1 on the helper (<see cref="IAssistedWork.RunPart"/>),
    /// returning when both are done; the helper charges its part to <paramref name="phase"/>. Part 1 goes to whichever
    /// thread takes it first: a helper that has not started it by the time part 0 is done (descheduled: another process
    /// has its core) leaves it to the owner, which then never waits on it. A helper's exception is thrown here. Without
    /// a helper, part −1: the whole.
    /// </summary>
    public void Split(IAssistedWork owner, int work, CpuPhase phase)
    {
        if (!Helped)
        {
            owner.RunPart(work, -1);
            return;
        }
        (_owner, _work, _phase) = (owner, work, phase);
        int sequence = _posted + 1;
        _posted = sequence; // volatile write: publishes _owner, _work and _phase to the helper
        owner.RunPart(work, 0);
        if (Interlocked.CompareExchange(ref _taken, sequence, sequence - 1) == sequence - 1)
        {
            owner.RunPart(work, 1); // the helper had not started it
            return;
        }
        var wait = new SpinWait();
        while (_completed != sequence) wait.SpinOnce(sleep1Threshold: -1);
        if (_error is { } error)
        {
            _error = null;
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        }
    }

    /// <summary>
    /// Helper (after <see cref="TryClaim"/>): runs each part the owner posts until it closes. With a clock, each part is
    /// charged to its phase and the waits to none (the profile's threading overhead).
    /// </summary>
    public void Serve(CpuPhaseClock? clock)
    {
        int done = _completed;
        var wait = new SpinWait();
        while (true)
        {
            int posted = _posted;
            if (posted != done)
            {
                wait.Reset();
                done = posted;
                if (Interlocked.CompareExchange(ref _taken, posted, posted - 1) != posted - 1) continue; // the owner took it
                clock?.Restart();
                try { _owner!.RunPart(_work, 1); }
                catch (Exception e) { _error = e; }
                clock?.Lap(_phase);
                _completed = posted; // volatile write: publishes the part's results to the owner
                continue;
            }
            if (_closed) return;
            wait.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Owner: no more parts (its last model of the run is trained, or it failed); the helper returns.</summary>
    public void Close() => _closed = true;

    /// <summary>
    /// Rows [start, end) of part <paramref name="part"/> (0, 1, or −1 for all) of <paramref name="count"/> rows cut at a
    /// multiple of <paramref name="block"/> (the GEMM kernels' 6-row blocks, the SGD step's vectors), so each part has
    /// as many blocks as the other, or one more.
    /// </summary>
    public static (int Start, int End) Part(int count, int part, int block)
    {
        if (part < 0) return (0, count);
        int blocks = (count + block - 1) / block;
        int cut = Math.Min(count, (blocks + 1) / 2 * block);
        return part == 0 ? (0, cut) : (cut, count);
    }
}

/// <summary>Work an owner splits with a <see cref="CpuAssist"/> helper: piece <c>work</c> of the owner's, part 0, 1 or −1 (the whole).</summary>
internal interface IAssistedWork
{
    void RunPart(int work, int part);
}
