"""A bad-input sweep over every entry point: each case a subprocess, classified by what the user would see.

    python benchmarks/bad_inputs.py [--jobs 2] [--only ENTRY] [--list] [--json OUT.json] [--keep DIR]

Builds its corpus in a temporary folder (a small valid demand file, items and state files, scenario YAMLs,
a tiny PPO run folder and its exports, then many broken variants of each), runs every case as
``python ENTRY ARGS`` from this checkout and classifies it:

* ``clean``: exit status 2 (or 1) and one stderr line ``error: ...`` (argparse's ``usage`` + ``error`` lines
  count as clean too), no traceback;
* ``traceback``: a Python traceback, a crash (signal) or an error of more than one line;
* ``half-written``: failed, but the case's output file exists (or changed);
* ``silent``: exit 0 on an input that is wrong (the case's note says why it is wrong);
* ``hang``: no answer within the timeout (60 s).

Prints a table of counts per entry point (tried / clean / traceback / half-written / silent / hang) and, with
``--list``, every case that is not clean with its last stderr line. Issue 17 asks for these counts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
TIMEOUT = 60
ENTRIES = ("train.py", "evaluate.py", "agents.export", "deploy.recommend", "envs.data", "agents.convert")


@dataclass
class Case:
    entry: str
    name: str
    args: list[str]
    out: Path | None = None  # must not exist (or keep its content) after a failure
    note: str = ""
    result: str = ""
    last: str = ""
    rc: int | None = None
    before: bytes | None = field(default=None, repr=False)


def _cmd(entry: str) -> list[str]:
    return [PY, entry] if entry.endswith(".py") else [PY, "-m", entry]


def run_case(c: Case) -> Case:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    if c.out is not None and c.out.is_file():
        c.before = c.out.read_bytes()
    try:
        p = subprocess.run(_cmd(c.entry) + c.args, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT,
                           env=env)
    except subprocess.TimeoutExpired:
        c.result, c.last = "hang", f"no answer in {TIMEOUT} s"
        return c
    c.rc = p.returncode
    err = [line for line in p.stderr.strip().splitlines() if line.strip()]
    err = [line for line in err if "RuntimeWarning" not in line and "warnings.warn" not in line]
    tail = err or p.stdout.strip().splitlines()
    c.last = tail[-1][:300] if tail else ""
    written = c.out is not None and c.out.exists() and (c.before is None or c.out.read_bytes() != c.before)
    if p.returncode == 0:
        c.result = "silent"
    elif p.returncode < 0 or "Traceback" in p.stderr:
        c.result = "traceback"
    elif written:
        c.result = "half-written"
    elif (len(err) == 1 and err[0].startswith("error: ")) or (
            len(err) >= 2 and err[0].startswith("usage:") and err[-1].split(": error: ", 1)[-1] != err[-1]):
        c.result = "clean"
    else:
        c.result = "traceback"  # a multi-line or unprefixed error: not the one line promised
    return c


# ----------------------------------------------------------------------------------------- the corpus
def corpus(d: Path) -> list[Case]:
    """Write the valid inputs and their broken variants into `d`; return the cases."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    cases: list[Case] = []
    import shutil

    for old in ("orders", "exp", "runs", "no"):  # outputs of an earlier sweep in a --keep folder
        shutil.rmtree(d / old, ignore_errors=True)

    def add(entry: str, name: str, args: list[str], out: Path | None = None, note: str = "") -> None:
        cases.append(Case(entry, name, [str(a) for a in args], out, note))

    def w(name: str, text: str | bytes) -> Path:
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
        return p

    # valid demand: 3 SKUs x 200 days
    rng = np.random.default_rng(0)
    days = [str(np.datetime64("2024-01-01") + i) for i in range(200)]
    rows = [f"{day},{s},{int(v)}" for s in ("A", "B", "C") for day, v in zip(days, rng.poisson(5, 200))]
    good = w("demand.csv", "date,sku,demand\n" + "\n".join(rows) + "\n")
    items = w("items.csv", "sku,lead_time,moq,pack_size\nA,2,0,1\nB,2,0,1\nC,2,0,1\n")
    head = "date,sku,demand\n"
    body = "\n".join(rows[:400]) + "\n"
    data_variants = {
        "empty file": "", "header only": head, "no demand column": "date,sku\n2024-01-01,A\n",
        "surplus field": head + "2024-01-02,A,1,500\n" + body, "missing field": head + "2024-01-02,A\n" + body,
        "text demand": head + body + "2024-09-01,A,lots\n", "negative demand": head + body + "2024-09-01,A,-4\n",
        "NaN demand": head + body.replace(",A,", ",A,", 1) + "2024-09-01,A,nan\n",
        "inf demand": head + body + "2024-09-01,A,inf\n", "1e300 demand": head + body + "2024-09-01,A,1e300\n",
        "bad date": head + "2024-13-45,A,3\n" + body, "time of day": head + "2024-01-01 10:00,A,3\n" + body,
        "duplicate row": head + body + rows[0] + "\n", "one date only": head + "2024-01-01,A,3\n",
        "binary garbage": bytes(range(256)) * 20, "utf-16": (head + body).encode("utf-16"),
        "long field": head + "2024-01-01,A," + "9" * 2_000_000 + "x\n" + body,
        "wrong separator": (head + body).replace(",", ";").replace("date;sku;demand", "date|sku|demand"),
        "blank sku": head + "2024-01-01,,3\n" + body, "quote chaos": head + '2024-01-01,"A,3\n' + body,
        "mixed sku spellings": head + body + "2024-09-01, A ,3\n",
        "gaps in dates": head + "\n".join(r for i, r in enumerate(rows) if i % 7) + "\n",
    }
    data_files = {}
    for i, (name, text) in enumerate(data_variants.items()):
        data_files[name] = w(f"data/bad{i:02d}.csv", text)
    gz = w("data/truncated.csv.gz", gzip.compress((head + body).encode())[:300])
    data_files["truncated gzip"] = gz
    data_files["wrong extension"] = w("data/demand.txt", head + body)
    data_files["missing file"] = d / "data" / "nope.csv"
    (d / "data" / "folder.csv").mkdir(exist_ok=True)
    data_files["a folder"] = d / "data" / "folder.csv"
    link = d / "data" / "passwd.csv"
    if not link.exists():
        link.symlink_to("/etc/passwd")
    data_files["link to /etc/passwd"] = link
    dev = d / "data" / "zero.csv"
    if not dev.exists():
        dev.symlink_to("/dev/zero")
    data_files["link to /dev/zero"] = dev
    for name, f in data_files.items():
        add("envs.data", name, [f])
    for name in ("surplus field", "missing field", "text demand", "negative demand", "inf demand", "bad date",
                 "link to /etc/passwd", "empty file", "missing file"):
        add("evaluate.py", f"--data {name}", ["--scenario", "lost-sales-L2-p9", "--data", data_files[name],
                                              "--policies", "base_stock", "--no-progress"])
    for name in ("surplus field", "negative demand", "binary garbage", "link to /etc/passwd"):
        add("train.py", f"--data {name}", ["--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--data",
                                           data_files[name], "--timesteps", "64", "--run-dir", d / "runs" / f"data{name}",
                                           "--no-progress"])
    bad_items = {"items surplus field": "sku,lead_time\nA,2,9\nB,2\nC,2\n", "items unknown sku": "sku,lead_time\nZ,2\n",
                 "items lead 1e12": "sku,lead_time\nA,1000000000000\nB,2\nC,2\n",
                 "items negative moq": "sku,moq\nA,-1\nB,0\nC,0\n", "items pack 0": "sku,pack_size\nA,0\nB,1\nC,1\n",
                 "items NaN max_order": "sku,max_order\nA,nan\nB,1\nC,1\n",
                 "items moq > max_order": "sku,moq,max_order\nA,10,5\nB,0,5\nC,0,5\n"}
    for i, (name, text) in enumerate(bad_items.items()):
        add("envs.data", name, [good, "--items", w(f"items/bad{i}.csv", text)])
    for flag, value in (("--sep", "ab"), ("--decimal", ";"), ("--date-format", "%Q"), ("--train", "1.5"),
                        ("--test", "2030-01-01"), ("--columns", "date=nope"), ("--items-scale", "moq=abc"),
                        ("--aggregate", "max")):
        add("envs.data", f"{flag} {value}", [good, flag, value])
    add("envs.data", "--init over an existing file", [good, "--init", items], items)

    # scenario YAMLs
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},"
                                                    f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
                                                    for i in range(8))
    base = "name: t\nmode: lost_sales\nlead_time: 2\nholding_cost: 1\nshortage_cost: 9\n"
    yamls = {"alias bomb": bomb, "not YAML": "name: [1, 2\n", "a list": "- 1\n- 2\n",
             "unknown field": base + "colour: red\n", "lead_time 1e12": base.replace("lead_time: 2", "lead_time: 1e12"),
             "lead_time -1": base.replace("lead_time: 2", "lead_time: -1"),
             "NaN max_order": base + "max_order: .nan\n", "moq > max_order": base + "moq: 10\nmax_order: 5\n",
             "demand_window 1e9": base + "observation: {demand_window: 1000000000}\n",
             "action.n 0": base + "action: {mode: units, n: 0}\n", "action.step inf": base + "action: {step: .inf}\n",
             "negative holding": base.replace("holding_cost: 1", "holding_cost: -1"),
             "huge file": base + "# " + "x" * 3_000_000 + "\n", "empty": ""}
    for i, (name, text) in enumerate(yamls.items()):
        y = w(f"scen/bad{i:02d}.yaml", text)
        add("evaluate.py", f"scenario {name}", ["--scenario", y, "--policies", "base_stock", "--episodes", "2",
                                                "--periods", "20", "--no-progress"])
        add("train.py", f"scenario {name}", ["--algo", "ppo", "--scenario", y, "--timesteps", "64", "--run-dir",
                                             d / "runs" / f"y{i}", "--no-progress"])

    # flags
    ev = ["--scenario", "lost-sales-L2-p9", "--policies", "base_stock", "--no-progress"]
    for flag, value in (("--episodes", "0"), ("--episodes", "-3"), ("--periods", "0"), ("--periods", "1e9"),
                        ("--policies", "nope"), ("--chunk-skus", "0"), ("--seed", "-1"), ("--seed", "x"),
                        ("--max-fits", "-1"), ("--model", d / "nope"), ("--scenario", "no-such-scenario"),
                        ("--out", good), ("--items", items)):
        args = [a for a in ev if not (flag == "--scenario" and a == "lost-sales-L2-p9")]
        if flag == "--scenario":
            args = ["--policies", "base_stock", "--no-progress"]
        add("evaluate.py", f"{flag} {value}", args + [flag, value])
    for ov in ("lead_time=abc", "lead_time=1e12", "nope=3", "holding_cost=.nan", "moq=-5", "max_order=-1",
               "episode_length=0", "==="):
        add("evaluate.py", f"override {ov}", ev + ["--episodes", "2", "--periods", "20", ov])
    tr = ["--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--no-progress"]
    for i, (flag, value) in enumerate((("--timesteps", "0"), ("--timesteps", "-5"), ("--n-envs", "0"),
                                       ("--seed", "-1"), ("--seed", str(2**70)), ("--preset", "nope"),
                                       ("--device", "tpu"), ("--resume", d / "nope"), ("--resume", good),
                                       ("--run-dir", good), ("--algo", "a2c"))):
        add("train.py", f"{flag} {value}", tr + ["--timesteps", "64", "--run-dir", d / "runs" / f"f{i}", flag, value]
            if flag not in ("--run-dir",) else tr + ["--timesteps", "64", flag, value])
    for i, ov in enumerate(("hp.gamma=abc", "hp.n_steps=-1", "hp.learning_rate=.nan", "hp.batch_size=0",
                            "hp.nope=1", "eval_freq=-1", "reward_scale=.nan", "obs_clip=.inf", "n_envs=100000000",
                            "hp.policy_kwargs={net_arch: [100000, 100000]}", "lead_time=1e12", "torch_threads=0")):
        add("train.py", f"override {ov}", tr + ["--timesteps", "64", "--run-dir", d / "runs" / f"o{i}", ov])

    # a tiny PPO run and its exports (valid), then broken copies
    run = d / "run"
    if not (run / "model.npz").exists():
        subprocess.run(_cmd("train.py") + ["--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--timesteps", "512",
                                           "--n-envs", "2", "--run-dir", str(run), "eval_freq=256", "checkpoint_freq=256",
                                           "eval_episodes=2", "eval_periods=50", "hp.n_steps=128", "hp.batch_size=128",
                                           "hp.n_epochs=1", "--no-progress"], cwd=ROOT, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    onnx_path = d / "policy.onnx"
    levels = d / "levels.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(_cmd("agents.export") + [str(run), "--out", str(onnx_path)], cwd=ROOT, env=env,
                   capture_output=True, check=True)
    subprocess.run(_cmd("agents.export") + ["--baseline", "base_stock", "--scenario", "lost-sales-L2-p9", "--out",
                                            str(levels)], cwd=ROOT, env=env, capture_output=True, check=True)
    import shutil

    def broken(name: str, edit) -> Path:
        b = d / "broken" / name
        if b.exists():
            shutil.rmtree(b)
        shutil.copytree(run, b)
        edit(b)
        return b

    def planted(b: Path) -> None:
        for p in b.rglob("*.npz"):
            p.unlink()

    runs = {
        "config not YAML": lambda b: (b / "config.yaml").write_text("config: [1, 2\n"),
        "config alias bomb": lambda b: (b / "config.yaml").write_text(bomb),
        "config unknown field": lambda b: (b / "config.yaml").write_text(
            (b / "config.yaml").read_text().replace("config:\n", "config:\n  colour: red\n", 1)),
        "no normalization": lambda b: (b / "normalization.json").unlink(),
        "normalization NaN": lambda b: (b / "normalization.json").write_text(
            (b / "normalization.json").read_text().replace('"clip": 6.0', '"clip": NaN')),
        "normalization short": lambda b: (b / "normalization.json").write_text('{"obs_names": ["on_hand"], '
                                                                                '"shift": [1, 2]}'),
        "empty npz": lambda b: [(p.write_bytes(b"")) for p in b.rglob("*.npz")],
        "truncated npz": lambda b: [(p.write_bytes(p.read_bytes()[:200])) for p in b.rglob("*.npz")],
        "npz of garbage arrays": lambda b: [p.write_bytes((d / "levels.json").read_bytes()) for p in b.rglob("*.npz")],
        "old run (zips only)": planted,
        "no model at all": lambda b: [p.unlink() for p in list(b.rglob("*.npz")) + list(b.rglob("*.zip"))],
    }
    broken_runs = {name: broken(f"r{i}", edit) for i, (name, edit) in enumerate(runs.items())}
    for name, b in broken_runs.items():
        add("evaluate.py", f"--model {name}", ["--model", b, "--policies", "base_stock", "--episodes", "2",
                                               "--periods", "20", "--no-progress"])
        add("agents.export", f"run {name}", [b, "--out", d / "exp" / f"{b.name}.onnx"], d / "exp" / f"{b.name}.onnx")
    ckpt = {"resume: checkpoint zip empty": lambda b: (b / "checkpoint" / "model.zip").write_bytes(b""),
            "resume: state.json garbage": lambda b: (b / "checkpoint" / "state.json").write_text("[[["),
            "resume: state.json steps text": lambda b: (b / "checkpoint" / "state.json").write_text(
                '{"num_timesteps": "many"}'),
            "resume: no checkpoint zip": lambda b: (b / "checkpoint" / "model.zip").unlink()}
    for i, (name, edit) in enumerate(ckpt.items()):
        add("train.py", name, ["--resume", broken(f"c{i}", edit), "--no-progress"])
    (d / "exp").mkdir(exist_ok=True)
    for name, args, out in (("--out a folder", [run, "--out", d / "exp"], None),
                            ("--out missing parent", [run, "--out", d / "exp" / "no" / "p.onnx"], d / "exp" / "no"),
                            ("--out under a file", [run, "--out", good / "p.onnx"], None),
                            ("no run folder", [d / "nope", "--out", d / "exp" / "x.onnx"], d / "exp" / "x.onnx"),
                            ("a file as run", [good, "--out", d / "exp" / "y.onnx"], d / "exp" / "y.onnx"),
                            ("--baseline nope", ["--baseline", "nope", "--scenario", "lost-sales-L2-p9", "--out",
                                                 d / "exp" / "b.json"], d / "exp" / "b.json"),
                            ("--baseline without scenario", ["--baseline", "base_stock", "--out", d / "exp" / "c.json"],
                             d / "exp" / "c.json"),
                            ("--baseline bad override", ["--baseline", "base_stock", "--scenario", "lost-sales-L2-p9",
                                                         "lead_time=1e12", "--out", d / "exp" / "e.json"],
                             d / "exp" / "e.json"),
                            ("--model nope", [run, "--model", "nope", "--out", d / "exp" / "f.onnx"], None)):
        add("agents.export", name, args, out)
    add("agents.convert", "no --trust", [run])
    add("agents.convert", "no folder", [d / "nope", "--trust"])
    add("agents.convert", "corrupt zip", [broken("v0", lambda b: (planted(b), (b / "model.zip").write_bytes(b"PK"))),
                                          "--trust"])

    # recommend
    st_good = w("state.csv", "sku,on_hand,in_transit_1\nsku0,3,1\n")
    states = {"surplus field": "sku,on_hand,in_transit_1\nX-9,1,500,5\n",
              "missing field": "sku,on_hand,in_transit_1\nsku0,1\n",
              "negative on hand": "sku,on_hand,in_transit_1\nsku0,-1,0\n",
              "NaN on hand": "sku,on_hand,in_transit_1\nsku0,nan,0\n",
              "inf in transit": "sku,on_hand,in_transit_1\nsku0,1,inf\n",
              "unknown sku": "sku,on_hand,in_transit_1\nZZZ,1,0\n",
              "duplicate sku": "sku,on_hand,in_transit_1\nsku0,1,0\nsku0,2,0\n",
              "no on_hand column": "sku,in_transit_1\nsku0,1\n", "empty": "",
              "header only": "sku,on_hand,in_transit_1\n", "text on hand": "sku,on_hand,in_transit_1\nsku0,lots,0\n",
              "1e308 on hand": "sku,on_hand,in_transit_1\nsku0,1e308,0\n",
              "bad date column": "sku,on_hand,in_transit_1,date\nsku0,1,0,2024-02-30\n"}
    for i, (name, text) in enumerate(states.items()):
        s = w(f"states/s{i}.csv", text)
        for kind, pol in (("onnx", onnx_path), ("levels", levels)):
            out = d / "orders" / f"s{i}{kind}.csv"
            add("deploy.recommend", f"state {name} ({kind})", ["--policy", pol, "--state", s, "--out", out], out)
    link_state = d / "states" / "passwd.csv"
    if not link_state.exists():
        link_state.symlink_to("/etc/passwd")
    add("deploy.recommend", "state link to /etc/passwd", ["--policy", levels, "--state", link_state, "--out",
                                                          d / "orders" / "p.csv"], d / "orders" / "p.csv")
    ritems = {"items demand_scale 0": "sku,demand_scale\nsku0,0\n", "items pack 0": "sku,pack_size\nsku0,0\n",
              "items demand_scale blank": "sku,demand_scale\nsku0,\n", "items lead 1e12": "sku,lead_time\nsku0,1e12\n",
              "items surplus field": "sku,pack_size\nsku0,1,7\n", "items NaN moq": "sku,moq\nsku0,nan\n"}
    for i, (name, text) in enumerate(ritems.items()):
        out = d / "orders" / f"i{i}.csv"
        add("deploy.recommend", name, ["--policy", onnx_path, "--state", st_good, "--items",
                                       w(f"ritems/i{i}.csv", text), "--out", out], out)
    for name, extra in (("--threads 0", ["--threads", "0"]), ("--threads 100000", ["--threads", "100000"]),
                        ("--service-level 2", ["--service-level", "2"]), ("--service-level nan",
                                                                           ["--service-level", "nan"]),
                        ("--date bad", ["--date", "2024-02-30"]), ("--history missing", ["--history", d / "nope.csv"]),
                        ("--history surplus field", ["--history", w("hist.csv", "date,sku,demand\n2024-01-01,sku0,1,2\n")])):
        out = d / "orders" / f"flag{len(cases)}.csv"
        add("deploy.recommend", name, ["--policy", onnx_path, "--state", st_good, "--out", out, *extra], out)
    (d / "orders").mkdir(exist_ok=True)
    for name, o, mark in (("--out a folder", d / "orders", None), ("--out missing parent", d / "no" / "o.csv", d / "no"),
                          ("--out under a file", st_good / "o.csv", None)):
        add("deploy.recommend", name, ["--policy", levels, "--state", st_good, "--out", o], mark)
    import onnx

    def tampered(name: str, edit) -> Path:
        m = onnx.load(str(onnx_path))
        for prop in m.metadata_props:
            if prop.key == "invrl":
                meta = json.loads(prop.value)
                r = edit(meta)
                prop.value = r if isinstance(r, str) else json.dumps(meta)
        p = d / "tampered" / f"{name.replace(' ', '_')}.onnx"
        p.parent.mkdir(exist_ok=True)
        onnx.save(m, str(p))
        return p

    def setk(path, value):
        def f(meta):
            *ks, last = path.split(".")
            x = meta
            for k in ks:
                x = x[k]
            x[last] = value
        return f

    tampers = {"null demand scale": setk("skus.demand_scale", [None]), "zero demand scale": setk("skus.demand_scale", [0]),
               "pack size 0": setk("skus.pack_size", [0]), "sku a number": setk("skus.sku", 5),
               "n_pipe text": setk("observation.n_pipe", "x"), "action without step": lambda m: m["action"].pop("step"),
               "obs_names numbers": setk("obs_names", [1, 2, 3]), "run missing": lambda m: m.pop("run"),
               "mode nope": setk("mode", "nope"), "metadata a list": lambda m: "[]", "metadata not JSON": lambda m: "{",
               "format version 9": setk("format_version", 9), "lead_time 1e12": setk("skus.lead_time", [1e12]),
               "obs names unknown": setk("obs_names", ["on_hand", "pipeline_1", "colour"]),
               "action mode nope": setk("action.mode", "nope")}
    for i, (name, edit) in enumerate(tampers.items()):
        out = d / "orders" / f"t{i}.csv"
        add("deploy.recommend", f"tampered {name}", ["--policy", tampered(name, edit), "--state", st_good, "--out",
                                                     out], out)
    for name, text in (("policy garbage onnx", b"\x08\x01garbage"), ("policy empty", b"")):
        p = w(f"pol/{name.replace(' ', '_')}.onnx", text)
        out = d / "orders" / f"pol{len(cases)}.csv"
        add("deploy.recommend", name, ["--policy", p, "--state", st_good, "--out", out], out)
    for name, text in (("levels not JSON", "{"), ("levels a sidecar", (d / "policy.onnx.json").read_text()
                                                  if (d / "policy.onnx.json").exists() else "{}")):
        p = w(f"pol/{name.replace(' ', '_')}.json", text)
        out = d / "orders" / f"pol{len(cases)}.csv"
        add("deploy.recommend", name, ["--policy", p, "--state", st_good, "--out", out], out)
    return cases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    ap.add_argument("--only", choices=ENTRIES, help="one entry point")
    ap.add_argument("--list", action="store_true", help="print every case that is not a clean error")
    ap.add_argument("--json", metavar="OUT", help="write every case's result as JSON")
    ap.add_argument("--keep", metavar="DIR", help="build the corpus here and keep it (default: a temporary folder)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(args.keep or tmp).resolve()
        d.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        cases = [c for c in corpus(d) if args.only in (None, c.entry)]
        print(f"corpus: {len(cases)} cases in {d} ({time.perf_counter() - t0:.0f} s)", flush=True)
        with ThreadPoolExecutor(max(args.jobs, 1)) as pool:
            done = list(pool.map(run_case, cases))
        kinds = ("clean", "traceback", "half-written", "silent", "hang")
        print(f"\n{'entry point':<20}{'tried':>7}" + "".join(f"{k:>14}" for k in kinds))
        for entry in (*ENTRIES, "all"):
            sel = [c for c in done if entry in ("all", c.entry)]
            if sel:
                print(f"{entry:<20}{len(sel):>7}" + "".join(f"{sum(c.result == k for c in sel):>14}" for k in kinds))
        if args.list:
            for c in done:
                if c.result != "clean":
                    print(f"{c.result:<13} {c.entry:<17} {c.name}: rc {c.rc}: {c.last[:200]}")
        if args.json:
            Path(args.json).write_text(json.dumps([{"entry": c.entry, "case": c.name, "result": c.result, "rc": c.rc,
                                                    "last": c.last} for c in done], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
