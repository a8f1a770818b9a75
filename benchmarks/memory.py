"""Memory benchmark of the demand loader: peak RSS and CPU-seconds of ``envs.data.load_demand`` on a large file.

    python benchmarks/memory.py [--skus 100000] [--days 365] [--gzip] [--src DIR ...] [--keep DIR]

Writes a synthetic long demand file (``--skus`` SKUs x ``--days`` daily periods, 36.5 M rows by default:
``date,sku,demand`` with ids ``S0000001``.., integer demand, SKU-major order as exports usually are; ``--gzip``
writes ``.csv.gz``) into a temporary folder, then loads it in a fresh Python process per source tree (this
checkout, and each ``--src DIR``, e.g. a ``git archive`` of main, to compare before / after) and prints a table:
peak RSS of that process (VmHWM; not ``ru_maxrss``, which in a child keeps the parent's peak across
fork + exec; it includes the interpreter and imports: the import-only baseline
is printed too), CPU-seconds of the load (``time.process_time``), and a checksum of the loaded matrix so two
trees can be seen to load the same data. Target (issue 17.9): the 36.5 M-row load within 1.5 GiB.

``--evaluate`` also runs ``evaluate.py --scenario lost-sales-L2-p9 --data FILE --policies
base_stock,capped_base_stock,ses_tuned`` in a fresh process and prints its peak RSS and CPU-s (target: 2 GiB
for 100,000 SKUs x 365 days; above 20,000 SKUs evaluate chunks by 10,000 SKUs by default).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
def _hwm():  # KiB: VmHWM, this process's own peak (ru_maxrss keeps the parent's peak across fork + exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import envs.data as data_mod
base = _hwm()
t0 = time.process_time()
d = data_mod.load_demand(sys.argv[2])
cpu = time.process_time() - t0
peak = _hwm()
v = np.nan_to_num(d.demand, nan=-1.0)
print(json.dumps({"module": data_mod.__file__, "import_kib": base, "peak_kib": peak, "cpu_s": cpu,
                  "shape": list(d.demand.shape), "dtype": str(d.demand.dtype), "freq": d.freq,
                  "checksum": float((v * np.arange(1, v.shape[1] + 1)).sum()), "skus_dtype": str(d.skus.dtype)}))
"""


CHILD_EVAL = r"""
import contextlib, io, json, resource, sys, time
sys.path.insert(0, sys.argv[1])
def _hwm():  # KiB: VmHWM, this process's own peak (ru_maxrss keeps the parent's peak across fork + exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import evaluate
t0 = time.process_time()
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    rc = evaluate.main(json.loads(sys.argv[2]))
cpu = time.process_time() - t0
peak = _hwm()
print(json.dumps({"rc": rc, "peak_kib": peak, "cpu_s": cpu, "tail": buf.getvalue().splitlines()[-6:]}))
"""


def measure_evaluate(src: Path, path: Path, policies: str, chunk: int | None) -> dict:
    """Peak RSS and CPU-s of ``evaluate.py --scenario lost-sales-L2-p9 --data FILE --policies ...`` in a fresh
    process (default chunking, or ``--chunk-skus chunk``)."""
    args = ["--scenario", "lost-sales-L2-p9", "--data", str(path), "--policies", policies, "--no-progress"]
    if chunk:
        args += ["--chunk-skus", str(chunk)]
    out = subprocess.run([sys.executable, "-c", CHILD_EVAL, str(src), json.dumps(args)], capture_output=True,
                         text=True, cwd=str(src))
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_file(path: Path, skus: int, days: int, seed: int = 0) -> None:
    """The synthetic file, written with pyarrow in SKU blocks (this process's memory is not measured)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    dates = np.array([str(np.datetime64("2016-01-01") + i) for i in range(days)], dtype=object)
    date_dict = pa.array(dates, type=pa.string())
    schema = pa.schema([("date", pa.string()), ("sku", pa.string()), ("demand", pa.int32())])
    sink = pa.CompressedOutputStream(str(path), "gzip") if path.name.endswith(".gz") else pa.OSFile(str(path), "wb")
    opts = pacsv.WriteOptions(quoting_style="none")
    with pacsv.CSVWriter(sink, schema, write_options=opts) as writer:
        block = 5000
        for s0 in range(0, skus, block):
            n = min(block, skus - s0)
            ids = np.array([f"S{s0 + j + 1:07d}" for j in range(n)], dtype=object)
            rate = rng.gamma(0.8, 4.0, size=n)
            demand = rng.poisson(np.repeat(rate, days)).astype(np.int32)
            date_col = pa.DictionaryArray.from_arrays(pa.array(np.tile(np.arange(days, dtype=np.int32), n)),
                                                      date_dict).cast(pa.string())
            sku_col = pa.DictionaryArray.from_arrays(pa.array(np.repeat(np.arange(n, dtype=np.int32), days)),
                                                     pa.array(ids, type=pa.string())).cast(pa.string())
            writer.write_table(pa.table([date_col, sku_col, pa.array(demand)], schema=schema))
    sink.close()


def measure(src: Path, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(path)], capture_output=True, text=True,
                         cwd=str(src))
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skus", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--gzip", action="store_true", help="write and load a .csv.gz file")
    ap.add_argument("--src", action="append", default=[], metavar="DIR",
                    help="another source tree to measure (e.g. a git archive of main), repeatable")
    ap.add_argument("--keep", metavar="DIR", help="write the file here and keep it (default: a temporary folder)")
    ap.add_argument("--evaluate", action="store_true",
                    help="also measure evaluate.py on the file (target: <= 2 GiB for 100,000 SKUs x 365 days)")
    ap.add_argument("--policies", default="base_stock,capped_base_stock,ses_tuned", help="with --evaluate")
    ap.add_argument("--chunk-skus", type=int, help="with --evaluate: evaluate.py --chunk-skus (default: its own)")
    ap.add_argument("--no-load", action="store_true", help="skip the loader measurement")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"demand_{args.skus}x{args.days}.csv{'.gz' if args.gzip else ''}"
        if not path.exists():
            t0 = time.perf_counter()
            write_file(path, args.skus, args.days)
            print(f"wrote {path} ({path.stat().st_size / 2**20:,.0f} MiB, {args.skus * args.days:,} rows) in "
                  f"{time.perf_counter() - t0:.0f} s")
        if args.evaluate:
            print(f"{'source':<40}{'evaluate peak MiB':>18}{'CPU-s':>9}  policies (chunk)")
            for src in [ROOT, *map(Path, args.src)]:
                r = measure_evaluate(src.resolve(), path, args.policies, args.chunk_skus)
                if "error" in r or r.get("rc"):
                    print(f"{str(src):<40}  error: {r.get('error', r.get('tail'))}")
                    continue
                print(f"{str(src):<40}{r['peak_kib'] / 1024:>18.0f}{r['cpu_s']:>9.1f}  {args.policies} "
                      f"({args.chunk_skus or 'default'})")
        if args.no_load:
            return 0
        print(f"{'source':<40}{'import MiB':>11}{'peak MiB':>10}{'load CPU-s':>11}  matrix / checksum")
        for src in [ROOT, *map(Path, args.src)]:
            r = measure(src.resolve(), path)
            if "error" in r:
                print(f"{str(src):<40}  error: {r['error'][:200]}")
                continue
            print(f"{str(src):<40}{r['import_kib'] / 1024:>11.0f}{r['peak_kib'] / 1024:>10.0f}{r['cpu_s']:>11.1f}  "
                  f"{r['shape']} {r['dtype']} {r['freq']} / {r['checksum']:.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
