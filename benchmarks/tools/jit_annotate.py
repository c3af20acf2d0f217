#!/usr/bin/env python3
"""Per-instruction profile of .NET JIT code, on a machine where `perf annotate` cannot read it.

    python3 benchmarks/tools/jit_annotate.py PATTERN [--top N] -- COMMAND [ARGS...]

Runs COMMAND under `perf record -e cpu-clock` (timer sampling: it works without a PMU, as in this project's VMs)
with DOTNET_PerfMapEnabled=1 and DOTNET_EnableWriteXorExecute=0 (the runtime then names its JIT code in
/tmp/perf-PID.map, and maps it once, readable). While the command runs it copies, every half second, the machine
code of each JIT'd method whose name contains PATTERN out of the live process (/proc/PID/mem, at the address and
size the map gives; run as root or with ptrace rights). When the command ends it takes the version of those methods
that got the most samples (a method has one per tier, and PATTERN may match several), disassembles it with objdump
and prints every instruction with its share of that method's samples, then the instruction kinds by share and
the N hottest instructions.

Timer samples land on the instruction after the one that stalls (skid): read a hot instruction as "the one above
waited". Examples (see README, "CPU engine on an Intel Xeon"):

    python3 benchmarks/tools/jit_annotate.py 'CpuTrainer::Step' -- nativecert bench --model lenet --models 8 --epochs 2 --threads 1
    NATIVECERT_AB_LOOP=1 python3 benchmarks/tools/jit_annotate.py Forward24Tile -- \\
        dotnet benchmarks/NativeCert.Benchmarks/bin/Release/net10.0/NativeCert.Benchmarks.dll ab conv avx512 kernels
"""
import collections
import os
import re
import subprocess
import sys
import tempfile
import time


def usage(message):
    print(f'jit_annotate.py: {message}', file=sys.stderr)
    print('usage: jit_annotate.py PATTERN [--top N] -- COMMAND [ARGS...]', file=sys.stderr)
    sys.exit(2)


def main():
    args = sys.argv[1:]
    if '--' not in args or args.index('--') == 0 or args.index('--') == len(args) - 1:
        usage('needs a method-name pattern, then -- and the command to profile')
    split = args.index('--')
    options, cmd = args[:split], args[split + 1:]
    pattern, top = options[0], 25
    if '--top' in options:
        at = options.index('--top')
        if at + 1 >= len(options) or not options[at + 1].isdigit():
            usage('--top: needs a number of instructions')
        top = int(options[at + 1])
    for tool in ('perf', 'objdump'):
        if subprocess.run(['which', tool], capture_output=True).returncode != 0:
            usage(f'{tool}: not on PATH (Debian: linux-perf, binutils)')
    work = tempfile.mkdtemp(prefix='jit-annotate-')
    data = os.path.join(work, 'perf.data')
    env = dict(os.environ, DOTNET_PerfMapEnabled='1', DOTNET_EnableWriteXorExecute='0')
    perf = subprocess.Popen(['perf', 'record', '-e', 'cpu-clock', '-F', '4000', '-o', data, '--'] + cmd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    methods, code = {}, {}  # start -> (size, name); start -> bytes
    while perf.poll() is None:
        time.sleep(0.5)
        for pid in descendants(perf.pid):
            path = f'/tmp/perf-{pid}.map'
            if not os.path.exists(path):
                continue
            try:
                with open(path) as m, open(f'/proc/{pid}/mem', 'rb') as mem:
                    for line in m:
                        parts = line.rstrip('\n').split(' ', 2)
                        if len(parts) < 3 or pattern not in parts[2]:
                            continue
                        start, size = int(parts[0], 16), int(parts[1], 16)
                        if start in code:
                            continue
                        mem.seek(start)
                        code[start] = mem.read(size)
                        methods[start] = (size, parts[2])
            except (OSError, ValueError):
                pass  # the process is exiting
    if perf.returncode != 0:
        sys.stderr.write(perf.stderr.read().decode(errors='replace'))
    if not methods:
        usage(f'no JIT method matching {pattern!r} was seen while the command ran')
    script = subprocess.run(['perf', 'script', '-i', data, '-F', 'ip'], capture_output=True, text=True).stdout
    counts = collections.Counter(int(token, 16) for token in script.split())
    total = sum(counts.values())

    def samples(start):
        size = methods[start][0]
        return sum(c for ip, c in counts.items() if start <= ip < start + size)

    start = max(methods, key=samples)
    size, name = methods[start]
    inside = {ip - start: c for ip, c in counts.items() if start <= ip < start + size}
    n = max(1, sum(inside.values()))
    print(f'{name}\n{sum(inside.values())} of {total} samples ({100 * sum(inside.values()) / max(total, 1):.1f}%), '
          f'{size} bytes; {len(methods)} matching method version(s) seen')
    binary = os.path.join(work, 'code.bin')
    with open(binary, 'wb') as f:
        f.write(code[start])
    listing = subprocess.run(['objdump', '-D', '-b', 'binary', '-m', 'i386:x86-64', '-M', 'intel', binary],
                             capture_output=True, text=True).stdout
    rows = []
    for line in listing.splitlines():
        m = re.match(r'\s*([0-9a-f]+):\s+((?:[0-9a-f]{2} )+)\s*(.*)', line)
        if m and m.group(3):
            rows.append((int(m.group(1), 16), m.group(3)))
    for offset, text in rows:
        print(f'{100 * inside.get(offset, 0) / n:5.1f}%  {offset:5x}  {text}')
    kinds, number = collections.Counter(), collections.Counter()
    for offset, text in rows:
        kinds[text.split()[0]] += inside.get(offset, 0)
        number[text.split()[0]] += 1
    print('\nby instruction kind (share of samples, instructions of that kind):')
    for kind, c in kinds.most_common(20):
        print(f'{100 * c / n:5.1f}%  {number[kind]:4d}  {kind}')
    print(f'\nthe {top} hottest instructions:')
    for offset, text in sorted(rows, key=lambda r: -inside.get(r[0], 0))[:top]:
        print(f'{100 * inside.get(offset, 0) / n:5.1f}%  {offset:5x}  {text}')


def descendants(root):
    """root and every process below it (the dotnet process may be perf's child or grandchild)."""
    children = collections.defaultdict(list)
    for p in os.listdir('/proc'):
        if p.isdigit():
            try:
                with open(f'/proc/{p}/stat') as f:
                    children[int(f.read().rsplit(')', 1)[1].split()[1])].append(int(p))
            except OSError:
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children[p])
    return out


if __name__ == '__main__':
    main()
