#!/usr/bin/env python3
"""The Python original's behaviour, as a reference for the benchmark.

What assetutilities' zip_utilities does: list the stem sources, and for every
stem write <output>/<stem>.zip with every data file whose name contains the
stem, stems run on a ProcessPoolExecutor. Written from its documented
behaviour (not its code) so the benchmark needs nothing but Python.

    python_original.py STEM_DIR DATA_DIR OUT_DIR WORKERS {stored|deflate} [LEVEL]
"""

import os
import sys
import zipfile
from concurrent.futures import ProcessPoolExecutor


def zip_stem(args):
    stem, members, out_dir, method, level = args
    path = os.path.join(out_dir, stem + ".zip")
    with zipfile.ZipFile(path, "w", compression=method, compresslevel=level) as z:
        for m in members:
            z.write(m, arcname=os.path.basename(m))
    return path


def main():
    stem_dir, data_dir, out_dir, workers, method = sys.argv[1:6]
    level = int(sys.argv[6]) if len(sys.argv) > 6 else None
    method = zipfile.ZIP_DEFLATED if method == "deflate" else zipfile.ZIP_STORED
    os.makedirs(out_dir, exist_ok=True)
    stems = sorted(os.path.splitext(f)[0] for f in os.listdir(stem_dir) if f.endswith(".yml"))
    data = sorted(f for f in os.listdir(data_dir) if f.endswith(".csv"))
    jobs = [
        (s, [os.path.join(data_dir, f) for f in data if s in f], out_dir, method, level)
        for s in stems
    ]
    with ProcessPoolExecutor(max_workers=int(workers)) as pool:
        for _ in pool.map(zip_stem, jobs, chunksize=1):
            pass


if __name__ == "__main__":
    main()
