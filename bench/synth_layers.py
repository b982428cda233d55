#!/usr/bin/env python3
"""Writes the three layer tars of the synthetic benchmark image (bench/image.sh).

    synth_layers.py LAYER [SCALE_PERCENT] > lLAYER.tar

writes layer LAYER (1, 2 or 3) on stdout: a pax tar whose content depends
only on the layer number and the scale, never on the clock or the host (seeded PRNG, fixed mtimes and owners). At 100% the three
layers hold ~46,000 entries and ~230 MB compressed with gzip -6: file
sizes follow a log-normal law (median ~3 KiB, a few MiB-sized), and each
file is half seeded random bytes (incompressible, as binaries and already
compressed assets are) and half word-like text (compresses ~3-4x), so the
whole compresses ~1.6x, close to what real layers do.

Layer 1 is a base tree (directories, files, symlinks, hardlinks); layers 2
and 3 add their own trees, overwrite some files of the layers below, and
carry whiteouts (.wh.NAME) and an opaque directory (.wh..wh..opq), so the
unpackers measured also do what a real multi-layer image asks of them.
"""
import io
import random
import sys
import tarfile

ENTRIES_PER_LAYER = 15400  # files + directories + links, at 100%
FILES_PER_DIR = 40
MTIME = 1700000000
WORDS = ("lib bin usr share doc man locale python module init config data value "
         "string buffer table index cache layer image system kernel device node "
         "file path name type mode owner group size time error return status "
         "struct const static void char int long unsigned").split()


def text_pool(rng, size):
    out, n = [], 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))) + "\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


class Layer:
    def __init__(self, number, scale):
        self.n = number
        self.rng = random.Random(0xBE47 + number)
        self.entries = max(60, ENTRIES_PER_LAYER * scale // 100)
        self.pool = text_pool(self.rng, 1 << 20)
        self.tar = tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT)
        self.count = 0
        self.files = []

    def info(self, name, kind, mode, size=0):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.size, ti.mtime = kind, mode, size, MTIME
        owner = 1000 if self.rng.random() < 0.1 else 0
        ti.uid = ti.gid = owner
        ti.uname = ti.gname = ""
        return ti

    def content(self, size):
        half = size // 2
        start = self.rng.randrange(0, len(self.pool) - (size - half)) if size - half < len(self.pool) else 0
        text = (self.pool * (1 + (size - half) // len(self.pool)))[start:start + size - half]
        return self.rng.randbytes(half) + text

    def add_dir(self, name, mode=0o755):
        self.tar.addfile(self.info(name, tarfile.DIRTYPE, mode))
        self.count += 1

    def add_file(self, name):
        size = min(int(self.rng.lognormvariate(7.75, 1.6)), 8 << 20)
        mode = self.rng.choice((0o644, 0o644, 0o644, 0o755, 0o600))
        self.tar.addfile(self.info(name, tarfile.REGTYPE, mode, size), io.BytesIO(self.content(size)))
        self.files.append(name)
        self.count += 1

    def add_link(self, name, kind, target):
        ti = self.info(name, kind, 0o777 if kind == tarfile.SYMTYPE else 0o644)
        ti.linkname = target
        self.tar.addfile(ti)
        self.count += 1

    def tree(self, top):
        """top/dNNN/fNNN until the layer has its number of entries; every
        50th entry a symlink, every 97th a hardlink to a file of this layer."""
        self.add_dir(top)
        d = 0
        while self.count < self.entries:
            dname = "%s/d%04d" % (top, d)
            self.add_dir(dname)
            for f in range(FILES_PER_DIR):
                if self.count >= self.entries:
                    break
                name = "%s/f%03d" % (dname, f)
                if self.count % 50 == 0 and self.files:
                    self.add_link(name, tarfile.SYMTYPE, "../" + self.files[-1].split("/")[-2] + "/x")
                elif self.count % 97 == 0 and self.files:
                    self.add_link(name, tarfile.LNKTYPE, self.files[-1])
                else:
                    self.add_file(name)
            d += 1

    def changes(self):
        """Overwrites, whiteouts and an opaque directory over layer 1's tree."""
        self.add_dir("base")
        for d in range(self.n, 40, 7):
            dname = "base/d%04d" % d
            self.add_dir(dname)
            self.add_file("%s/f%03d" % (dname, 1))
            self.tar.addfile(self.info("%s/.wh.f%03d" % (dname, 2), tarfile.REGTYPE, 0o644))
            self.count += 2
        opq = "base/d%04d" % (50 + self.n)
        self.add_dir(opq)
        self.tar.addfile(self.info(opq + "/.wh..wh..opq", tarfile.REGTYPE, 0o644))
        self.add_file(opq + "/fresh")
        self.tar.addfile(self.info("base/.wh.d%04d" % (60 + self.n), tarfile.REGTYPE, 0o644))
        self.count += 2

    def write(self):
        if self.n == 1:
            self.tree("base")
        else:
            self.changes()
            self.tree("layer%d" % self.n)
        self.tar.close()


def main():
    if len(sys.argv) not in (2, 3) or sys.argv[1] not in ("1", "2", "3"):
        sys.exit("usage: synth_layers.py 1|2|3 [SCALE_PERCENT] > layer.tar")
    scale = int(sys.argv[2]) if len(sys.argv) == 3 else 100
    if scale < 1:
        sys.exit("synth_layers.py: SCALE_PERCENT must be a positive integer")
    Layer(int(sys.argv[1]), scale).write()


if __name__ == "__main__":
    main()
