#!/usr/bin/env python3
"""Marks version requirements that this system's libstdc++ lacks as weak in a copy of a shared library.

TorchSharp-cpu 0.107's libLibTorchSharp.so asks for GLIBCXX_3.4.32 (GCC 13), which Debian 12's libstdc++ (GCC 12)
does not define, so the dynamic loader refuses it. The symbols it needs at that version are not on the paths the
benchmark runs; setting VER_FLG_WEAK on that entry of .gnu.version_r (the Verneed/Vernaux table) makes a missing
version a non-fatal condition for the loader. The file is edited in place: point it at the build output's copy
(bin/ is not committed), never at the NuGet cache.

  python3 benchmarks/peers/weak_glibcxx.py DIR_OR_FILE [--version GLIBCXX_3.4.32 ...]

Only versions the system libstdc++ does not define are touched (checked with its own version definitions), so on a
system with a newer libstdc++ nothing changes. Prints what it did.
"""
import argparse, os, struct, sys

SHT_GNU_VERNEED, SHT_GNU_VERDEF, VER_FLG_WEAK = 0x6FFFFFFE, 0x6FFFFFFD, 0x2


def sections(data):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a little-endian ELF64 file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    out = []
    for i in range(shnum):
        name, typ, flags, addr, off, size, link, info, align, entsize = struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
        out.append({"type": typ, "offset": off, "size": size, "link": link, "info": info})
    return out


def cstr(data, off):
    return data[off:data.index(b"\0", off)].decode()


def defined_versions(path):
    """Version names a library defines (.gnu.version_d)."""
    data = open(path, "rb").read()
    secs = sections(data)
    names = set()
    for s in secs:
        if s["type"] != SHT_GNU_VERDEF:
            continue
        strtab = secs[s["link"]]["offset"]
        off = s["offset"]
        for _ in range(s["info"]):
            version, flags, ndx, cnt, hsh, aux, nxt = struct.unpack_from("<HHHHIII", data, off)
            name_off, = struct.unpack_from("<I", data, off + aux)
            names.add(cstr(data, strtab + name_off))
            if nxt == 0:
                break
            off += nxt
    return names


def weaken(path, wanted):
    data = bytearray(open(path, "rb").read())
    secs = sections(data)
    changed = []
    for s in secs:
        if s["type"] != SHT_GNU_VERNEED:
            continue
        strtab = secs[s["link"]]["offset"]
        off = s["offset"]
        for _ in range(s["info"]):
            version, cnt, file_off, aux, nxt = struct.unpack_from("<HHIII", data, off)
            aoff = off + aux
            for _ in range(cnt):
                hsh, flags, other, name_off, anext = struct.unpack_from("<IHHII", data, aoff)
                name = cstr(data, strtab + name_off)
                if name in wanted and not flags & VER_FLG_WEAK:
                    struct.pack_into("<H", data, aoff + 4, flags | VER_FLG_WEAK)
                    changed.append(f"{cstr(data, strtab + file_off)}:{name}")
                if anext == 0:
                    break
                aoff += anext
            if nxt == 0:
                break
            off += nxt
    if changed:
        tmp = path + ".weak-tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, os.stat(path).st_mode)
        os.replace(tmp, path)  # a new inode: a hard link into the NuGet cache, if any, keeps the original
    return changed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("target", help="libLibTorchSharp.so, or a directory searched for it")
    ap.add_argument("--version", action="append", default=None, help="version to weaken (default GLIBCXX_3.4.32)")
    ap.add_argument("--libstdcxx", default="/usr/lib/x86_64-linux-gnu/libstdc++.so.6")
    args = ap.parse_args()
    target = args.target
    if os.path.isdir(target):
        hits = [os.path.join(d, f) for d, _, fs in os.walk(target) for f in fs if f == "libLibTorchSharp.so"]
        if not hits:
            sys.exit(f"{target}: no libLibTorchSharp.so below it")
        target = hits[0]
    wanted = set(args.version or ["GLIBCXX_3.4.32"])
    have = defined_versions(args.libstdcxx) if os.path.exists(args.libstdcxx) else set()
    missing = wanted - have
    if not missing:
        print(f"{target}: {args.libstdcxx} defines {', '.join(sorted(wanted))}; nothing to do")
        return
    changed = weaken(target, missing)
    print(f"{target}: marked weak: {', '.join(changed) if changed else 'nothing (already weak or not required)'}")


if __name__ == "__main__":
    main()
