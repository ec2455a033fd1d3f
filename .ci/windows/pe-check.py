#!/usr/bin/env python3
"""Check a Windows executable's PE headers and resources, without Windows.

    pe-check.py EXE --subsystem gui|console [--icon] [--version-info]

--subsystem: the optional header's Subsystem must be 2 (WINDOWS_GUI: no
console window) or 3 (WINDOWS_CUI: a console program).
--icon: an RT_GROUP_ICON (14) resource must exist, and every RT_ICON (3) it
lists, so that Explorer shows the program's icon.
--version-info: an RT_VERSION (16) resource must exist; its FileVersion and
ProductVersion are printed (Explorer's Properties > Details).
Standard library only, so it runs on a fresh CI machine. Exits 1 naming what
is missing, 2 if the file is not a PE executable.
"""
import argparse
import struct
import sys

SUBSYSTEMS = {1: "native", 2: "gui", 3: "console", 9: "windows-ce", 10: "efi"}
MACHINES = {0x14C: "i386", 0x8664: "x86-64", 0xAA64: "arm64"}
RT_ICON, RT_GROUP_ICON, RT_VERSION = 3, 14, 16
TYPE_NAMES = {1: "RT_CURSOR", 2: "RT_BITMAP", 3: "RT_ICON", 4: "RT_MENU", 5: "RT_DIALOG",
              6: "RT_STRING", 9: "RT_ACCELERATOR", 10: "RT_RCDATA", 11: "RT_MESSAGETABLE",
              12: "RT_GROUP_CURSOR", 14: "RT_GROUP_ICON", 16: "RT_VERSION", 24: "RT_MANIFEST"}


class NotPE(Exception):
    pass


def u16(b, o):
    return struct.unpack_from("<H", b, o)[0]


def u32(b, o):
    return struct.unpack_from("<I", b, o)[0]


class PE:
    def __init__(self, data):
        self.data = data
        if len(data) < 0x40 or data[:2] != b"MZ":
            raise NotPE("no MZ header")
        pe = u32(data, 0x3C)
        if data[pe:pe + 4] != b"PE\0\0":
            raise NotPE("no PE signature")
        coff = pe + 4
        self.machine = u16(data, coff)
        nsections = u16(data, coff + 2)
        opt_size = u16(data, coff + 16)
        opt = coff + 20
        magic = u16(data, opt)
        if magic == 0x10B:
            self.kind, ndirs_at, dirs_at = "PE32", 92, 96
        elif magic == 0x20B:
            self.kind, ndirs_at, dirs_at = "PE32+", 108, 112
        else:
            raise NotPE(f"unknown optional header magic {magic:#x}")
        self.subsystem = u16(data, opt + 68)
        ndirs = u32(data, opt + ndirs_at)
        self.dirs = [struct.unpack_from("<II", data, opt + dirs_at + 8 * i) for i in range(ndirs)]
        self.sections = []
        for i in range(nsections):
            s = opt + opt_size + 40 * i
            name = data[s:s + 8].rstrip(b"\0").decode("latin-1")
            vsize, vaddr, rawsize, rawptr = struct.unpack_from("<IIII", data, s + 8)
            self.sections.append((name, vaddr, max(vsize, rawsize), rawptr, rawsize))

    def offset(self, rva):
        """The file offset of an RVA, via the section holding it."""
        for _, vaddr, size, rawptr, rawsize in self.sections:
            if vaddr <= rva < vaddr + size:
                if rva - vaddr >= rawsize:
                    raise NotPE(f"RVA {rva:#x} is not backed by file data")
                return rawptr + rva - vaddr
        raise NotPE(f"RVA {rva:#x} is in no section")

    def resources(self):
        """{type id or name: [(name/id, language, data bytes), ...]} from .rsrc."""
        if len(self.dirs) <= 2 or self.dirs[2][0] == 0:
            return {}
        base = self.offset(self.dirs[2][0])
        d = self.data

        def entries(rel):
            o = base + rel
            named, ids = u16(d, o + 12), u16(d, o + 14)
            for i in range(named + ids):
                name, target = struct.unpack_from("<II", d, o + 16 + 8 * i)
                if name & 0x80000000:  # a counted UTF-16 string in the section
                    s = base + (name & 0x7FFFFFFF)
                    name = d[s + 2:s + 2 + 2 * u16(d, s)].decode("utf-16-le")
                yield name, target

        found = {}
        for rtype, t in entries(0):
            items = found.setdefault(rtype, [])
            if not t & 0x80000000:
                continue
            for rname, n in entries(t & 0x7FFFFFFF):
                if not n & 0x80000000:
                    continue
                for lang, leaf in entries(n & 0x7FFFFFFF):
                    if leaf & 0x80000000:
                        continue
                    rva, size = struct.unpack_from("<II", d, base + leaf)
                    at = self.offset(rva)
                    items.append((rname, lang, d[at:at + size]))
        return found


def group_icons(blob):
    """(width, height, icon id) for each image listed in a GRPICONDIR."""
    count = u16(blob, 4)
    out = []
    for i in range(count):
        e = 6 + 14 * i
        w, h = blob[e] or 256, blob[e + 1] or 256
        out.append((w, h, u16(blob, e + 12)))
    return out


def version_strings(blob):
    """FileVersion/ProductVersion: the fixed numeric ones, then the strings.

    VS_VERSIONINFO is a tree of blocks (length, value length, type, UTF-16
    key, padding, value, children); walking it beats searching for strings."""
    out = {}

    def walk(o, end):
        while o + 6 <= end:
            length, vlen, vtype = struct.unpack_from("<HHH", blob, o)
            if length == 0:
                break
            stop = min(o + length, end)
            k = o + 6
            while k + 1 < stop and blob[k:k + 2] != b"\0\0":
                k += 2
            key = blob[o + 6:k].decode("utf-16-le", "replace")
            v = (k + 2 + 3) & ~3
            if key == "VS_VERSION_INFO" and vlen >= 52 and u32(blob, v) == 0xFEEF04BD:
                fms, fls, pms, pls = struct.unpack_from("<IIII", blob, v + 8)
                out["FileVersion (fixed)"] = f"{fms >> 16}.{fms & 0xFFFF}.{fls >> 16}.{fls & 0xFFFF}"
                out["ProductVersion (fixed)"] = f"{pms >> 16}.{pms & 0xFFFF}.{pls >> 16}.{pls & 0xFFFF}"
            if vtype == 1 and vlen and key in ("FileVersion", "ProductVersion"):
                # Some tools count the value in bytes, some in characters:
                # take the text up to its NUL.
                text = blob[v:stop].decode("utf-16-le", "replace").split("\0")[0]
                out[key] = text
            children = v + (vlen * 2 if vtype == 1 else vlen)
            walk((children + 3) & ~3, stop)
            o = (o + length + 3) & ~3

    walk(0, len(blob))
    return out


def check(args, pe):
    """Print what the file has; return what it lacks."""
    problems = []
    res = pe.resources()
    sub = SUBSYSTEMS.get(pe.subsystem, "unknown")
    print(f"pe-check: {args.exe}: {pe.kind} {MACHINES.get(pe.machine, hex(pe.machine))}, "
          f"subsystem {pe.subsystem} ({sub})")
    if sub != args.subsystem:
        want = 2 if args.subsystem == "gui" else 3
        problems.append(f"subsystem is {pe.subsystem} ({sub}), expected {want} ({args.subsystem})")

    # Numbered types first, in order, then named ones.
    order = sorted(res, key=lambda t: (isinstance(t, str), t if isinstance(t, int) else 0, str(t)))
    kinds = ", ".join(f"{TYPE_NAMES.get(t, t)} x{len(res[t])}" for t in order)
    print(f"pe-check: resources: {kinds or 'none'}")

    if args.icon:
        icons = {rname for rname, _, _ in res.get(RT_ICON, [])}
        groups = res.get(RT_GROUP_ICON, [])
        if not groups:
            problems.append("no RT_GROUP_ICON (14) resource: the program has no icon")
        if not icons:
            problems.append("no RT_ICON (3) resource: the program has no icon images")
        for gname, _, blob in groups:
            listed = group_icons(blob)
            sizes = " ".join(f"{w}x{h}" for w, h, _ in listed)
            print(f"pe-check: icon group {gname}: {len(listed)} images ({sizes})")
            missing = [i for _, _, i in listed if i not in icons]
            if missing:
                problems.append(f"icon group {gname} lists RT_ICON ids {missing} that do not exist")

    if args.version_info:
        versions = res.get(RT_VERSION, [])
        if not versions:
            problems.append("no RT_VERSION (16) resource: no version information")
        for _, _, blob in versions:
            found = version_strings(blob)
            for k, v in found.items():
                print(f"pe-check: {k}: {v}")
            for k in ("FileVersion", "ProductVersion"):
                if k not in found:
                    problems.append(f"the version resource has no {k} string")

    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("exe")
    ap.add_argument("--subsystem", choices=["gui", "console"], required=True)
    ap.add_argument("--icon", action="store_true", help="require an icon resource")
    ap.add_argument("--version-info", action="store_true", help="require a version resource")
    args = ap.parse_args()
    try:
        with open(args.exe, "rb") as f:
            data = f.read()
        problems = check(args, PE(data))
    except (OSError, NotPE, struct.error, IndexError, ValueError) as e:
        print(f"pe-check: {args.exe}: not a readable PE executable: {e}")
        return 2
    for p in problems:
        print(f"pe-check: {args.exe}: FAILED: {p}")
    if problems:
        return 1
    print(f"pe-check: {args.exe}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
