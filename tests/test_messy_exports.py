"""Real exports in (issue 14.3) and bad input bounded (issue 17.2, 17.6): messy demand files and item tables
written by the tests, the flags that import each, and the one-line errors for what cannot be read."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deploy.errors import DeployError
from deploy.state import read_history
from deploy.state import read_table as deploy_read_table
from envs import Problem
from envs.data import DataError, load_demand, load_items, main
from envs.scenario import ScenarioError, load_yaml, parse_override, resolve_scenario
from invcore import yamlio
from invcore.tables import LineNumbers, excerpt, read_table

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "demand.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(fn, *args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 700, msg
    return msg


REFERENCE = [[1.5, 2.0, 0.0], [4.0, 5.25, 6.0]]  # the same data in every export format below


def check_reference(data) -> None:
    assert list(data.skus) == ["A1", "B2"] and data.freq == "D"
    assert [str(d) for d in data.dates] == ["2016-01-30", "2016-01-31", "2016-02-01"]
    np.testing.assert_array_equal(data.demand, REFERENCE)
    assert data.demand.dtype == np.float64


# ------------------------------------------------------------------------------------------ messy exports

def test_semicolon_decimal_comma_dayfirst_erp_headers(tmp_path):
    text = ("Datum;Artikel;Menge;Lager\n"
            "30.01.2016;A1;1,5;X\n31.01.2016;A1;2;X\n01.02.2016;A1;0;X\n"
            "30.01.2016;B2;4;X\n31.01.2016;B2;5,25;X\n01.02.2016;B2;6;X\n")
    path = write(tmp_path, text)
    cols = {"date": "Datum", "sku": "Artikel", "demand": "Menge"}
    data = load_demand(path, columns=cols, dayfirst=True)
    check_reference(data)
    assert "separator ';' (detected)" in data.notes and "decimal comma (detected)" in data.notes
    assert "dates day-first" in data.notes and any("date='Datum'" in n for n in data.notes)
    check_reference(load_demand(path, columns=cols, sep=";", decimal=",", date_format="%d.%m.%Y"))
    # without the mapping: the columns found are named; without --dayfirst: a hint
    assert "found columns 'Datum', 'Artikel', 'Menge', 'Lager'" in error_of(load_demand, path)
    msg = error_of(load_demand, path, columns=cols)
    assert "column 'Datum', line 2: cannot parse date '30.01.2016'" in msg and "--dayfirst" in msg


def test_dayfirst_slashes_and_tab_separator(tmp_path):
    rows = ["date\tsku\tdemand"] + [f"{d}\t{s}\t{v}" for s, vals in (("A1", REFERENCE[0]), ("B2", REFERENCE[1]))
                                    for d, v in zip(["30/01/2016", "31/01/2016", "01/02/2016"], vals)]
    path = write(tmp_path, "\n".join(rows) + "\n")
    check_reference(load_demand(path, dayfirst=True))
    check_reference(load_demand(path, date_format="%d/%m/%Y", sep="\t"))
    assert "cannot parse date '30/01/2016'" in error_of(load_demand, path, date_format="%m/%d/%Y")


def test_wide_table(tmp_path):
    text = "date,A1,B2\n2016-01-30,\"1.5\",4\n2016-01-31,2,5.25\n2016-02-01,0,6\n"
    data = load_demand(write(tmp_path, text), wide=True)
    check_reference(data)
    assert any("wide table: 2 SKU columns" in n for n in data.notes)
    # an empty cell is no row: a SKU that starts later has NaN before its start
    late = load_demand(write(tmp_path, "Tag;A1;B2\n30.01.2016;1;\n31.01.2016;2;5\n", "late.csv"), wide=True,
                       columns={"date": "Tag"}, dayfirst=True)
    np.testing.assert_array_equal(late.demand, [[1, 2], [np.nan, 5]])
    msg = error_of(load_demand, write(tmp_path, "date,A1,B2\n2016-01-30,1,2\n2016-01-31,x,2\n", "bad.csv"),
                   wide=True)
    assert "column 'A1', line 3: demand 'x' is not a number" in msg
    msg = error_of(load_demand, write(tmp_path, "date,A1\n2016-01-30,1\n2016-01-31,-2\n", "neg.csv"), wide=True)
    assert "column 'A1', line 3: demand -2" in msg and ">= 0" in msg
    assert "only date=COLUMN" in error_of(load_demand, write(tmp_path, text, "w2.csv"), wide=True,
                                          columns={"sku": "x"})


def test_order_lines_summed_into_periods(tmp_path):
    text = ("date,sku,demand\n"
            "2016-01-30 09:10,A1,1\n2016-01-30 17:00,A1,0.5\n2016-01-31,A1,2\n2016-02-01,A1,0\n"
            "2016-01-30,B2,4\n2016-01-31,B2,5\n2016-01-31,B2,0.25\n2016-02-01,B2,6\n")
    path = write(tmp_path, text)
    data = load_demand(path, aggregate="sum")
    check_reference(data)
    assert any("8 rows summed into 6 (date, SKU) periods" in n for n in data.notes)
    msg = error_of(load_demand, path)
    assert "line 2" in msg and "time of day" in msg and "--aggregate sum" in msg
    dup = write(tmp_path, "date,sku,demand\n2016-01-30,A1,1\n2016-01-31,A1,2\n2016-01-31,A1,3\n", "dup.csv")
    msg = error_of(load_demand, dup)
    assert "duplicate row for SKU 'A1' and date 2016-01-31: line 3 and line 4" in msg and "--aggregate sum" in msg
    assert "aggregate 'mean'" in error_of(load_demand, dup, aggregate="mean")


def test_sku_ids_stripped_and_spelling_clashes_listed(tmp_path):
    text = "date,sku,demand\n2016-01-30, A1 ,1.5\n2016-01-31, A1 ,2\n2016-02-01, A1 ,0\n" + \
           "2016-01-30,B2,4\n2016-01-31,B2,5.25\n2016-02-01,B2,6\n"
    data = load_demand(write(tmp_path, text))
    check_reference(data)
    assert "SKU ids: surrounding whitespace stripped from 1 id(s)" in data.notes
    clash = ("date,sku,demand\n2016-01-30,A1,1\n2016-01-31,A1 ,2\n2016-01-30,b2,1\n2016-01-31,B2,1\n"
             "2016-01-30,C,1\n2016-01-31,C,1\n")
    msg = error_of(load_demand, write(tmp_path, clash, "clash.csv"))
    assert "2 SKU id(s) spelled in more than one way" in msg
    assert "'A1' (line 2) / 'A1 ' (line 3)" in msg and "'b2' (line 4) / 'B2' (line 5)" in msg
    # --fill-missing would not double these SKUs any more: the clash is reported first
    assert "spelled in more than one way" in error_of(load_demand, tmp_path / "clash.csv", fill_missing=True)


def test_fill_missing_says_how_many(tmp_path):
    text = "date,sku,demand\n2016-01-30,A1,1\n2016-02-01,A1,2\n2016-01-30,B2,1\n2016-01-31,B2,1\n2016-02-01,B2,1\n"
    data = load_demand(write(tmp_path, text), fill_missing=True)
    assert data.filled == 1 and "fill missing: 1 missing SKU-periods of 1 SKU(s) filled with 0" in data.notes


def test_cli_flags_import_and_print_what_they_did(tmp_path, capsys):
    text = "Datum;Artikel;Menge\n30.01.2016;A1;1,5\n30.01.2016;A1;0\n31.01.2016;A1;2\n01.02.2016;A1;0\n"
    path = write(tmp_path, text)
    assert main([str(path), "--columns", "date=Datum,sku=Artikel,demand=Menge", "--dayfirst", "--aggregate",
                 "sum", "--test", "0.34"]) == 0
    out = capsys.readouterr().out
    for fragment in ("separator ';' (detected)", "decimal comma (detected)", "dates day-first",
                     "aggregate sum: 4 rows summed into 3", "columns date='Datum'"):
        assert fragment in out, out
    wide = write(tmp_path, "date|A1|B2\n2016-01-30|1|2\n2016-01-31|2|2\n2016-02-01|3|2\n", "wide.csv")
    assert main([str(wide), "--wide", "--sep", "|"]) == 0
    assert "wide table: 2 SKU columns" in capsys.readouterr().out
    assert main([str(path), "--columns", "when=Datum"]) == 2
    assert "unknown field 'when' in the columns mapping" in capsys.readouterr().err


def test_scenario_yaml_and_overrides_take_the_same_options(tmp_path):
    text = "Datum;Artikel;Menge\n" + "".join(
        f"{d:02d}.01.2016;{s};{v}\n" for s in ("A1", "B2") for d, v in zip(range(1, 21), range(20)))
    path = write(tmp_path, text)
    yaml_path = write(tmp_path, "name: erp\nlead_time: 1\ndata:\n  path: demand.csv\n  dayfirst: true\n"
                                "  columns: {date: Datum, sku: Artikel, demand: Menge}\n  test: 0.25\n", "erp.yaml")
    problem = Problem(str(yaml_path))
    assert problem.source.data.n_skus == 2 and problem.source.data.n_periods == 20
    overrides = dict(parse_override(o) for o in ["data.sep=;", "data.dayfirst=true",
                                                 "data.columns={date: Datum, sku: Artikel, demand: Menge}"])
    p2 = Problem("lost-sales-L1-p9", **{"data.path": str(path), **overrides})
    np.testing.assert_array_equal(p2.source.data.demand, problem.source.data.demand)
    with pytest.raises(ScenarioError, match="'data.aggregate' must be sum or null|data.aggregate"):
        resolve_scenario(str(yaml_path), **{"data.aggregate": "mean"})


# -------------------------------------------------------------------------------------------- item tables

def test_unknown_item_columns_are_an_error_unless_mapped_or_ignored(tmp_path):
    path = write(tmp_path, "sku,lead_time,MOQ,PackSize,Description\nA1,2,10,5,bolt\nB2,1,0,1,nut\n", "items.csv")
    skus = np.array(["A1", "B2"], dtype=object)
    msg = error_of(load_items, path, skus)
    assert "unknown item column(s) 'MOQ', 'PackSize', 'Description'" in msg and "--items-ignore" in msg
    table = load_items(path, skus, columns={"moq": "MOQ", "pack_size": "PackSize"}, ignore_columns=["Description"])
    np.testing.assert_array_equal(table.values["moq"], [10, 0])
    np.testing.assert_array_equal(table.values["pack_size"], [5, 1])
    assert "'Supplier' is named among the item columns to ignore" in error_of(
        load_items, path, skus, columns={"moq": "MOQ", "pack_size": "PackSize"}, ignore_columns=["Supplier"])
    semi = write(tmp_path, "sku;unit_cost\n A1 ;2,5\nB2;1\n", "semi.csv")
    np.testing.assert_array_equal(load_items(semi, skus).values["unit_cost"], [2.5, 1.0])


# ---------------------------------------------------------------------------------- surplus / missing fields

@pytest.mark.parametrize("row,fields", [("2024-01-02,A,1,500", 4), ("2024-01-02,A", 2)])
def test_demand_row_with_surplus_or_missing_fields(tmp_path, row, fields):
    path = write(tmp_path, f"date,sku,demand\n2024-01-01,A,1\n{row}\n2024-01-03,A,1\n")
    msg = error_of(load_demand, path)
    assert f"{path}, line 3: {fields} field(s) but the header has 3" in msg and row in msg


def test_item_and_deploy_rows_with_surplus_fields(tmp_path):
    items = write(tmp_path, "sku,lead_time\nA,1\nB,2,7\n", "items.csv")
    assert f"{items}, line 3: 3 field(s) but the header has 2" in error_of(load_items, items, ["A", "B"])
    state = write(tmp_path, "sku,on_hand,in_transit_1\nX-8,1,0\nX-9,1,500,5\n", "state.csv")
    with pytest.raises(DeployError, match=r"state\.csv, line 3: 4 field\(s\) but the header has 3"):
        deploy_read_table(state, "state file", ["sku", "on_hand"])
    hist = write(tmp_path, "date,sku,demand\n2024-01-01,X-9,1\n2024-01-02,X-9\n", "history.csv")
    with pytest.raises(DeployError, match=r"history\.csv, line 3: 2 field\(s\) but the header has 3"):
        read_history(hist, np.array(["X-9"], dtype=object), 2)
    # blank lines are still skipped and line numbers stay true
    df, where = read_table(write(tmp_path, "sku,qty\nA,1\n\n,\nB,2\n", "t.csv"), "t", ["sku"])
    assert list(df["sku"]) == ["A", "B"] and list(where.lines) == [2, 5]


def test_line_numbers_without_an_array_per_row():
    lines = LineNumbers(5, np.array([1, 2, 6]))  # rows 1, 2 and 6 of the file were blank
    assert list(lines) == [2, 5, 6, 7, 9] and lines.take(np.array([0, 4])).tolist() == [2, 9]


# ----------------------------------------------------------------------------------- bounded errors / inputs

def test_huge_field_is_quoted_as_a_short_excerpt(tmp_path):
    big = "x" * (20 << 20)  # 20 MB: longer than a read block, so the reader retries with a larger one
    path = write(tmp_path, f"date,sku,demand\n2024-01-01,A,1\n2024-01-02,A,{big}\n")
    msg = error_of(load_demand, path)
    assert "line 3" in msg and "20,971,520 characters" in msg and len(msg) < 400
    path = write(tmp_path, f"date,sku,demand\n2024-01-01,A,1\n{big},A,1\n", "d2.csv")
    assert "cannot parse date 'xxx" in error_of(load_demand, path)
    assert excerpt("y" * 1000).endswith("... (1,000 characters)") and len(excerpt("y" * 1000)) < 100


def alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_fails_fast_with_one_line(tmp_path):
    bomb = alias_bomb()
    assert len(bomb) < 2000
    path = write(tmp_path, "name: x\n" + bomb.replace("a0:", "demand: {kind: poisson}\na0:"), "bomb.yaml")
    t0 = time.process_time()
    with pytest.raises(ScenarioError) as info:
        load_yaml(path)
    assert time.process_time() - t0 < 1.0
    msg = str(info.value)
    assert "expands to more than 100,000 values" in msg and str(path) in msg and len(msg) < 300
    with pytest.raises(ScenarioError, match="expands to more than"):  # the same bomb as a KEY=VALUE override
        parse_override("demand.mean={" + ", ".join(bomb.splitlines()) + "}")
    with pytest.raises(yamlio.YamlLimitError, match="recursive"):
        yamlio.safe_load("a: &a [*a]")
    big = tmp_path / "big.yaml"
    big.write_text("name: x\n# " + "y" * (2 << 20) + "\n")
    with pytest.raises(ScenarioError, match="bytes of YAML; expected at most 1,048,576"):
        load_yaml(big)
    assert yamlio.safe_load("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}  # plain aliases still work


def test_cli_alias_bomb_and_data_without_scenario_one_line(tmp_path):
    path = write(tmp_path, "name: x\n" + alias_bomb(), "bomb.yaml")
    res = subprocess.run([sys.executable, "evaluate.py", "--scenario", str(path)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 2 and "Traceback" not in res.stderr and len(res.stderr) < 400
    assert "expands to more than" in res.stderr


# ------------------------------------------------------------------------------------------ compact loading

def test_compact_loader_matches_a_pandas_pivot(tmp_path):
    rng = np.random.default_rng(3)
    rows = []
    dates = pd.date_range("2020-01-06", periods=30, freq="W-MON")
    for j in range(40):
        lo, hi = sorted(rng.integers(0, 30, size=2))
        for t in range(lo, hi + 1):
            rows.append((str(dates[t].date()), f"S{j:03d}", int(rng.poisson(2)) if j % 3 else rng.gamma(1.0)))
    df = pd.DataFrame(rows, columns=["date", "sku", "demand"]).sample(frac=1, random_state=0)
    path = tmp_path / "d.csv.gz"
    df.to_csv(path, index=False)
    data = load_demand(path)
    ref = df.assign(date=pd.to_datetime(df["date"])).pivot(index="sku", columns="date", values="demand")
    ref = ref.reindex(columns=pd.date_range(ref.columns.min(), ref.columns.max(), freq="W-MON"))
    assert list(data.skus) == list(ref.index) and data.skus.dtype == object
    np.testing.assert_array_equal(data.demand, ref.to_numpy(dtype=np.float64))
    assert data.demand.dtype == np.float64 and data.first.dtype == np.int64 and data.last.dtype == np.int64


def test_types_settled_across_blocks_and_line_numbers_stay_true(tmp_path, monkeypatch):
    import invcore.tables as tables

    monkeypatch.setattr(tables, "_BLOCK_BYTES", 64)  # many small blocks: types are inferred from the first one
    rows = [f"2020-01-{d:02d},A,{d}" for d in range(1, 29)]
    rows[20] = "2020-01-21,A,2.5"  # a float after a block of integers
    rows.insert(10, "")  # a blank line in a middle block
    path = write(tmp_path, "date,sku,demand\n" + "\n".join(rows) + "\n")
    data = load_demand(path)
    assert data.demand[0, 20] == 2.5 and data.demand[0, 27] == 28 and data.n_periods == 28
    rows[25] = "2020-01-25,A,many"
    msg = error_of(load_demand, write(tmp_path, "date,sku,demand\n" + "\n".join(rows) + "\n", "bad.csv"))
    assert "column 'demand', line 27: demand 'many' is not a number" in msg


def test_init_writes_a_commented_scenario_that_loads(tmp_path, capsys):
    text = "Datum;Artikel;Menge\n" + "".join(
        f"{d:02d}.02.2016;{s};{v},5\n" for s in ("A1", "B2") for d, v in zip(range(1, 21), range(20)))
    path = write(tmp_path, text, "erp.csv")
    out = tmp_path / "sub" / "erp.yaml"
    args = [str(path), "--columns", "date=Datum,sku=Artikel,demand=Menge", "--dayfirst", "--init", str(out)]
    assert main(args) == 0
    body = out.read_text()
    assert "EDIT" in body and "# read: decimal comma (detected)" in body and '"../erp.csv"' in body
    problem = Problem(str(out))
    assert problem.source.data.n_skus == 2 and problem.source.data.demand[0, 0] == 0.5
    assert main(args) == 2 and "exists" in capsys.readouterr().err  # never overwritten
