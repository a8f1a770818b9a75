"""envs.data: demand files, item tables and splits: what is accepted, and the messages for what is not."""

from __future__ import annotations

import datetime as dt
import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from envs.data import (
    ITEM_PARAMS,
    DataError,
    demand_from_frame,
    format_summary,
    load_demand,
    load_items,
    main,
    split_windows,
    summarize,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MAN_COLUMNS = {"lead_time": "lead_time_weeks", "unit_cost": "unit_cost_eur", "order_cost": "order_cost_eur",
               "holding_cost": "holding_cost_eur_per_year", "moq": "moq_units"}


def write(tmp_path: Path, text: str, name: str = "demand.csv") -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def long_csv(dates, skus=("A", "B"), value=lambda k, j: k + j) -> str:
    rows = ["date,sku,demand"]
    for j, s in enumerate(skus):
        rows += [f"{d},{s},{value(k, j)}" for k, d in enumerate(dates)]
    return "\n".join(rows) + "\n"


def days(start: str, n: int, freq: str = "D") -> list[str]:
    return [str(d.date()) for d in pd.date_range(start, periods=n, freq=freq)]


def expect_error(path: Path, *fragments: str, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        load_demand(path, **kwargs)
    message = str(info.value)
    for f in (str(path), *fragments):
        assert f in message, f"{f!r} not in {message!r}"
    return message


# ------------------------------------------------------------------------------------------------ good files


@pytest.mark.parametrize("freq,start,alias", [
    ("D", "2020-01-01", "D"),
    ("W-MON", "2012-01-02", "W-MON"),
    ("W-WED", "2012-01-04", "W-WED"),
    ("MS", "1998-01-01", "MS"),
    ("ME", "1998-01-31", "ME"),
    ("B", "2024-01-01", "B"),
    ("QS-JAN", "2000-01-01", "QS-JAN"),
    ("14D", "2020-01-01", "2W-WED"),
    ("3D", "2020-01-01", "3D"),
])
def test_grid_inference(tmp_path, freq, start, alias):
    dates = days(start, 12, freq)
    data = load_demand(write(tmp_path, long_csv(dates)))
    assert data.freq == alias
    assert data.n_periods == 12 and data.n_skus == 2
    assert data.dates.dtype == np.dtype("datetime64[D]")
    assert [str(d) for d in data.dates] == dates
    assert np.array_equal(pd.date_range(start, periods=12, freq=alias).values.astype("datetime64[D]"), data.dates)


def test_matrix_skus_sorted_and_nan_outside_each_skus_range(tmp_path):
    text = ("date,sku,demand\n"
            "2020-01-03,B,1\n2020-01-04,B,0\n2020-01-05,B,2.5\n"
            "2020-01-01,A,4\n2020-01-02,A,5\n"
            "2020-01-02,0012,7\n2020-01-03,0012,8\n2020-01-04,0012,9\n")
    data = load_demand(write(tmp_path, text, "d.csv.gz"))
    assert list(data.skus) == ["0012", "A", "B"] and data.skus.dtype == object
    assert data.freq == "D" and data.n_periods == 5
    assert data.first.tolist() == [1, 0, 2] and data.last.tolist() == [3, 1, 4]
    assert data.first.dtype == np.int64 and data.last.dtype == np.int64
    nan = np.nan
    expected = [[nan, 7, 8, 9, nan], [4, 5, nan, nan, nan], [nan, nan, 1, 0, 2.5]]
    np.testing.assert_array_equal(data.demand, np.array(expected))
    assert data.demand.dtype == np.float64
    assert data.filled == 0
    assert data.zero_share == pytest.approx(1 / 8)
    assert data.mean_demand == pytest.approx((7 + 8 + 9 + 4 + 5 + 1 + 0 + 2.5) / 8)


def test_extra_columns_ignored_and_other_column_names(tmp_path):
    text = "day,item,qty,price\n2020-01-01,A,1,9.9\n2020-01-02,A,2,9.9\n2020-01-03,A,3,\n"
    data = load_demand(write(tmp_path, text), date_column="day", sku_column="item", demand_column="qty")
    assert data.demand.tolist() == [[1.0, 2.0, 3.0]]


def test_fill_missing_fills_gaps_inside_ranges_only(tmp_path):
    text = ("date,sku,demand\n"
            "2020-01-06,A,1\n2020-01-20,A,3\n2020-02-03,A,5\n"  # weeks 2 and 4 missing
            "2020-01-13,B,2\n2020-01-20,B,2\n")
    path = write(tmp_path, text)
    data = load_demand(path, fill_missing=True)
    assert data.freq == "W-MON" and data.filled == 2
    np.testing.assert_array_equal(data.demand, [[1, 0, 3, 0, 5], [np.nan, 2, 2, np.nan, np.nan]])


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path):
    text = "date,sku,demand\n2020-01-01,A,1\n\n2020-01-02,A,x\n"
    expect_error(write(tmp_path, text), "line 4", "'demand'", "'x'")
    data = load_demand(write(tmp_path, "date,sku,demand\n2020-01-01,A,1\n\n2020-01-02,A,2\n\n", "b.csv"))
    assert data.demand.tolist() == [[1.0, 2.0]]


def test_parquet_and_frame(tmp_path):
    df = pd.DataFrame({"date": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-01"]),
                       "sku": ["7", "7", "8"], "demand": [1.0, 2.0, 3.0]})
    for suffix in (".parquet", ".pq"):
        path = tmp_path / f"d{suffix}"
        df.to_parquet(path)
        data = load_demand(path)
        assert list(data.skus) == ["7", "8"] and data.freq == "D"
        np.testing.assert_array_equal(data.demand, [[1, 2], [3, np.nan]])
    frame = demand_from_frame(df.assign(sku=[7, 7, 8]), source="mine")
    assert frame.path == "mine" and list(frame.skus) == ["7", "8"]
    bad = df.assign(demand=[1.0, -2.0, 3.0])
    path = tmp_path / "bad.parquet"
    bad.to_parquet(path)
    expect_error(path, "row 1", "'demand'", "negative demand -2")
    with pytest.raises(DataError, match=r"mine, column 'demand', row 1: negative demand"):
        demand_from_frame(bad, source="mine")


# ------------------------------------------------------------------------------------------------- bad files


def test_empty_file_and_header_only(tmp_path):
    expect_error(write(tmp_path, ""), "empty")
    expect_error(write(tmp_path, "", "e.csv.gz"), "empty")
    expect_error(write(tmp_path, "date,sku,demand\n", "h.csv"), "no data rows")


def test_missing_column_lists_the_columns_found(tmp_path):
    msg = expect_error(write(tmp_path, "date,item,demand\n2020-01-01,A,1\n"), "missing required column 'sku'")
    assert "found columns 'date', 'item', 'demand'" in msg


@pytest.mark.parametrize("value,fragment", [("2020-13-01", "cannot parse date '2020-13-01'"),
                                            ("yesterday", "cannot parse date 'yesterday'"),
                                            ("", "empty date")])
def test_unparseable_date(tmp_path, value, fragment):
    text = f"date,sku,demand\n2020-01-01,A,1\n{value},A,2\n"
    expect_error(write(tmp_path, text), "column 'date'", "line 3", fragment, "YYYY-MM-DD")


def test_date_with_time_of_day(tmp_path):
    text = "date,sku,demand\n2020-01-01,A,1\n2020-01-02 12:00,A,2\n"
    expect_error(write(tmp_path, text), "column 'date'", "line 3", "time of day")


@pytest.mark.parametrize("value,fragment", [("abc", "demand 'abc' is not a number"),
                                            ("", "empty or NaN demand"),
                                            ("NaN", "empty or NaN demand"),
                                            ("inf", "infinite demand"),
                                            ("-1", "negative demand -1"),
                                            ("-0.5", "negative demand -0.5")])
def test_bad_demand_values(tmp_path, value, fragment):
    text = f"date,sku,demand\n2020-01-01,A,1\n2020-01-02,A,2\n2020-01-03,A,{value}\n"
    msg = expect_error(write(tmp_path, text), "column 'demand'", "line 4", fragment, "expected")
    assert "'A'" in msg


def test_empty_sku(tmp_path):
    expect_error(write(tmp_path, "date,sku,demand\n2020-01-01,A,1\n2020-01-01,,1\n"), "column 'sku'", "line 3",
                 "empty SKU")


def test_duplicate_rows_show_both_lines(tmp_path):
    text = "date,sku,demand\n2020-01-01,A,1\n2020-01-02,A,1\n2020-01-01,B,1\n2020-01-02,A,5\n"
    expect_error(write(tmp_path, text), "duplicate row for SKU 'A' and date 2020-01-02", "line 3 and line 5")


def test_irregular_dates(tmp_path):
    text = long_csv(["2020-01-01", "2020-01-02", "2020-01-04", "2020-01-09", "2020-01-10"], skus=("A",))
    expect_error(write(tmp_path, long_csv(["2020-01-01", "2020-01-15", "2020-02-03"], skus=("A",)), "m.csv"),
                 "not on a regular grid", "cannot be inferred")
    # a daily grid holds these dates, but A then misses days: that is the missing-period error
    expect_error(write(tmp_path, text), "SKU 'A' has 5 missing period(s)", "first missing: 2020-01-03")
    weekly_off = long_csv(["2020-01-06", "2020-01-13", "2020-01-20", "2020-01-22", "2020-01-27", "2020-02-03",
                           "2020-02-10"], skus=("A",))
    expect_error(write(tmp_path, weekly_off, "w.csv"), "not on a regular grid", "2020-01-22", "line 5")


def test_single_date(tmp_path):
    expect_error(write(tmp_path, "date,sku,demand\n2020-01-01,A,1\n2020-01-01,B,2\n"), "two distinct dates")


def test_missing_periods_name_the_sku_first_missing_date_and_count(tmp_path):
    text = ("date,sku,demand\n"
            "1998-01-01,P1,1\n1998-02-01,P1,1\n1998-03-01,P1,1\n1998-04-01,P1,1\n"
            "1998-01-01,P2,1\n1998-04-01,P2,1\n"
            "1998-02-01,P3,1\n1998-04-01,P3,1\n")
    msg = expect_error(write(tmp_path, text), "SKU 'P2' has 2 missing period(s)", "first missing: 1998-02-01",
                       "1998-01-01..1998-04-01", "1 more SKU(s)", "3 missing SKU-periods", "fill_missing=True")
    assert "MS" in msg
    assert load_demand(write(tmp_path, text, "ok.csv"), fill_missing=True).filled == 3


@pytest.mark.parametrize("name", ["demand.txt", "demand.xlsx", "demand.json.gz"])
def test_unsupported_extension(tmp_path, name):
    expect_error(write(tmp_path, "date,sku,demand\n2020-01-01,A,1\n", name), "unsupported file type",
                 ".csv, .csv.gz, .parquet, .pq")


def test_missing_file_and_bad_gzip(tmp_path):
    expect_error(tmp_path / "nope.csv", "no such file")
    path = tmp_path / "broken.csv.gz"
    path.write_text("date,sku,demand\n")
    expect_error(path, "cannot read")


# ------------------------------------------------------------------------------------------------ item table


@pytest.fixture
def demand(tmp_path):
    return load_demand(write(tmp_path, long_csv(days("2020-01-01", 10), skus=("A", "B", "C"))))


def items(tmp_path, text, **kwargs):
    return load_items(write(tmp_path, text, "items.csv"), kwargs.pop("skus", ("A", "B", "C")), **kwargs)


def test_items_mapping_scale_and_missing_skus(tmp_path, demand):
    text = ("sku,lt_w,unit_cost,hold_year,moq,pack_size,note\n"
            "C,7,2.5,52,10,1,x\nA,16,1,26,2.5,50,y\n")
    table = load_items(write(tmp_path, text, "items.csv"), demand.skus,
                       columns={"lead_time": "lt_w", "holding_cost": "hold_year"}, scale={"holding_cost": 1 / 52},
                       ignore_columns=["note"])
    assert set(table.values) == {"lead_time", "unit_cost", "holding_cost", "moq", "pack_size"}
    assert set(table.values) <= set(ITEM_PARAMS)
    np.testing.assert_array_equal(table.values["lead_time"], [16, np.nan, 7])  # B is not in the table
    np.testing.assert_allclose(table.values["holding_cost"], [0.5, np.nan, 1.0])
    np.testing.assert_array_equal(table.values["moq"], [2.5, np.nan, 10])  # a fractional MOQ is a threshold
    assert all(v.dtype == np.float64 and v.shape == (3,) for v in table.values.values())
    assert table.given("pack_size") == 2 and table.given("order_cost") == 0


def test_item_sku_read_as_text(tmp_path):
    table = items(tmp_path, "sku,lead_time\n0012,3\n12,4\n", skus=np.array(["0012", "12"], dtype=object))
    assert table.values["lead_time"].tolist() == [3.0, 4.0]


def test_unknown_item_skus(tmp_path, demand):
    text = "sku,lead_time\nA,1\nZ,2\nY,3\n"
    with pytest.raises(DataError) as info:
        items(tmp_path, text)
    msg = str(info.value)
    assert "column 'sku', line 3: unknown SKU 'Z'" in msg and "2 of 3 item rows" in msg
    assert "ignore_unknown_items" in msg
    table = items(tmp_path, text, ignore_unknown_skus=True)
    assert table.ignored == 2
    np.testing.assert_array_equal(table.values["lead_time"], [1, np.nan, np.nan])


@pytest.mark.parametrize("text,fragments", [
    ("item,lead_time\nA,1\n", ["missing required column 'sku'", "found columns 'item', 'lead_time'"]),
    ("sku,lead_time\nA,1\nB,2\nA,3\n", ["duplicate SKU 'A'", "line 2 and line 4"]),
    ("sku,lead_time\nA,1\nB,two\n", ["column 'lead_time', line 3", "'two' is not a number", "SKU 'B'"]),
    ("sku,unit_cost\nA,1\nB,\n", ["column 'unit_cost', line 3", "empty or NaN unit_cost"]),
    ("sku,unit_cost\nA,1\nB,inf\n", ["column 'unit_cost', line 3", "infinite"]),
    ("sku,holding_cost\nA,1\nB,-0.1\n", ["column 'holding_cost', line 3", "-0.1", "expected a number >= 0"]),
    ("sku,lead_time\nA,2.5\n", ["column 'lead_time', line 2", "2.5", "non-negative integer"]),
    ("sku,lead_time\nA,-1\n", ["column 'lead_time', line 2", "non-negative integer"]),
    ("sku,moq\nA,-1\n", ["column 'moq', line 2", "expected a number >= 0"]),
    ("sku,pack_size\nA,0\n", ["column 'pack_size', line 2", "positive integer"]),
    ("sku,pack_size\nA,2.5\n", ["column 'pack_size', line 2", "positive integer"]),
    ("sku,colour\nA,red\n", ["no item parameter column", "found columns 'sku', 'colour'"]),
    ("sku,lead_time\n", ["no data rows"]),
    ("sku,lead_time\nA,1\n,2\n", ["column 'sku', line 3", "empty SKU"]),
])
def test_bad_item_tables(tmp_path, text, fragments):
    with pytest.raises(DataError) as info:
        items(tmp_path, text)
    msg = str(info.value)
    for f in (str(tmp_path / "items.csv"), *fragments):
        assert f in msg, f"{f!r} not in {msg!r}"


@pytest.mark.parametrize("kwargs,fragment", [
    ({"columns": {"lead_time": "lead_time_weeks"}}, "missing column 'lead_time_weeks' (mapped to lead_time)"),
    ({"columns": {"leadtime": "lead_time"}}, "unknown item parameter 'leadtime'"),
    ({"scale": {"unit_cost": 2.0}}, "no unit_cost column"),
    ({"scale": {"lead_time": 0.5}}, "scaled by 0.5 is 0.5; expected an integer"),
    ({"scale": {"lead_time": -1.0}}, "expected a finite number > 0"),
])
def test_bad_item_options(tmp_path, kwargs, fragment):
    with pytest.raises(DataError, match="found|unknown|no unit_cost|integer|> 0") as info:
        items(tmp_path, "sku,lead_time\nA,1\n", **kwargs)
    assert fragment in str(info.value)


def test_missing_item_file(tmp_path, demand):
    with pytest.raises(DataError, match="no such file"):
        load_items(tmp_path / "nope.csv", demand.skus)


# ---------------------------------------------------------------------------------------------------- splits


@pytest.fixture
def ten(tmp_path):
    """A daily grid of 10 periods 2020-01-01..10; A spans all, B days 1..4 (index 0..3), C days 8..10."""
    text = long_csv(days("2020-01-01", 10), skus=("A",))
    text += "".join(f"{d},B,1\n" for d in days("2020-01-01", 4))
    text += "".join(f"{d},C,1\n" for d in days("2020-01-08", 3))
    return load_demand(write(tmp_path, text, "ten.csv"))


@pytest.mark.parametrize("kwargs,expected", [
    ({}, ((0, 6), (6, 8), (8, 10))),  # 60 / 20 / 20
    ({"train": 0.6}, ((0, 6), (6, 6), (6, 10))),
    ({"test": 0.2}, ((0, 6), (6, 8), (8, 10))),  # val: the last quarter before test
    ({"test": 0.2, "val": 0}, ((0, 8), (8, 8), (8, 10))),  # no validation window
    ({"train": 0.6, "val": 0.2}, ((0, 6), (6, 8), (8, 10))),
    ({"train": 0.5, "test": 0.2}, ((0, 5), (5, 8), (8, 10))),  # val is what lies between
    ({"val": 0.2}, ((0, 6), (6, 8), (8, 10))),  # test keeps its default 20 %
    ({"train": 0.5, "val": 0.25, "test": 0.25}, ((0, 5), (5, 8), (8, 10))),
    ({"train": "0.6", "val": 0}, ((0, 6), (6, 6), (6, 10))),
    ({"test": "2020-01-09"}, ((0, 6), (6, 8), (8, 10))),  # val: the last quarter before test
    ({"test": "2020-01-09", "val": 0}, ((0, 8), (8, 8), (8, 10))),
    ({"val": "2020-01-06", "test": "2020-01-09"}, ((0, 5), (5, 8), (8, 10))),
    ({"val": dt.date(2020, 1, 6)}, ((0, 5), (5, 8), (8, 10))),
    ({"train": 0.5, "test": "2020-01-09"}, ((0, 5), (5, 8), (8, 10))),
    ({"val": 0.3, "test": "2020-01-09"}, ((0, 5), (5, 8), (8, 10))),
    ({"train": "2020-01-03", "test": 0.4}, ((2, 5), (5, 6), (6, 10))),  # a start date is no share: val
    ({"train": "2020-01-03", "val": 0, "test": 0.4}, ((2, 6), (6, 6), (6, 10))),
])
def test_split_windows(ten, kwargs, expected):
    w = split_windows(ten, **kwargs)
    assert (w.train, w.val, w.test) == expected


def test_split_date_between_grid_points_starts_at_the_next_period(tmp_path):
    data = load_demand(write(tmp_path, long_csv(days("2012-01-02", 10, "W-MON"), skus=("A",))))
    w = split_windows(data, test="2012-02-01")  # a Wednesday: the window starts on Monday 2012-02-06
    assert w.test == (5, 10) and str(data.dates[5]) == "2012-02-06"


@pytest.mark.parametrize("kwargs,fragment", [
    ({"test": "2021-01-01"}, "test window start 2021-01-01 is outside the data's range 2020-01-01..2020-01-10"),
    ({"val": "2019-12-31"}, "outside the data's range"),
    ({"test": "soon"}, "test window start 'soon' cannot be parsed"),
    ({"train": 1.0}, "train share 1.0 is outside (0, 1)"),
    ({"test": 0}, "test share 0 is outside (0, 1)"),
    ({"val": -0.1}, "val share -0.1 is outside [0, 1)"),
    ({"train": 0.8, "test": 0.3}, "do not fit"),
    ({"train": 0.5, "val": 0.2, "test": 0.2}, "add up to 0.9"),
    ({"val": 0.8}, "do not fit"),
    ({"train": 0.02}, "train window is empty"),
    ({"train": 0.5, "val": "2020-01-08"}, "either by share or through the neighbouring start dates"),
    ({"val": "2020-01-08", "test": "2020-01-05"}, "test window would start (2020-01-05) before the val window"),
    ({"test": "2020-01-01"}, "train window is empty"),
    ({"val": "2020-01-05", "test": "2020-01-05"}, "val window is empty"),
    ({"train": True}, "expected a share in (0, 1) or a start date"),
])
def test_bad_splits(ten, kwargs, fragment):
    with pytest.raises(DataError) as info:
        split_windows(ten, **kwargs)
    assert fragment in str(info.value) and ten.path in str(info.value)


def test_window_without_data(tmp_path):
    # both SKUs end by 2020-01-04; the grid runs on because of C, which starts later only in the test window
    text = long_csv(days("2020-01-01", 4)) + "2020-01-10,C,1\n"
    data = load_demand(write(tmp_path, text))
    with pytest.raises(DataError, match=r"val window 2020-01-06\.\.2020-01-09 of .* holds no demand data"):
        split_windows(data, val="2020-01-06", test="2020-01-10")
    a_only = load_demand(write(tmp_path, long_csv(days("2020-01-01", 10), skus=("A",)) + "2020-01-11,B,1\n",
                               "b.csv"))
    assert split_windows(a_only, test="2020-01-11").test == (10, 11)
    late = load_demand(write(tmp_path, "date,sku,demand\n2020-01-01,A,1\n2020-01-02,A,1\n2020-01-10,B,1\n",
                             "c.csv"))
    # (the test window always holds the last date of the file, so it never is without data)
    with pytest.raises(DataError, match=r"train window 2020-01-03\.\.2020-01-08 of .* holds no demand data"):
        split_windows(late, train="2020-01-03", val=0, test="2020-01-09")
    assert split_windows(late, train=0.5).val == (5, 5)  # val not asked for: empty is fine


def test_sku_range(ten):
    w = split_windows(ten, train=0.5, val=0.2)  # (0, 5) (5, 7) (7, 10)
    a, b, c = (ten.sku_index(s) for s in ("A", "B", "C"))
    assert w.sku_range(ten, "train", a) == (0, 5) and w.sku_range(ten, "test", a) == (7, 10)
    assert w.sku_range(ten, "train", b) == (0, 4)
    assert w.sku_range(ten, "val", b) == (5, 5) and w.sku_range(ten, "test", b) == (7, 7)  # empty: (s, s)
    assert w.sku_range(ten, "train", c) == (0, 0) and w.sku_range(ten, "test", c) == (7, 10)
    for name in ("train", "val", "test"):
        ranges = w.sku_ranges(ten, name)
        assert ranges.tolist() == [list(w.sku_range(ten, name, i)) for i in range(ten.n_skus)]
    with pytest.raises(ValueError, match="unknown window"):
        w.sku_range(ten, "holdout", 0)


# --------------------------------------------------------------------------------------------------- summary


def test_summary_classes_windows_items(tmp_path):
    T = 12
    rows = {
        "smooth": [5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 6],
        "erratic": [1, 9, 1, 9, 1, 9, 1, 9, 1, 9, 1, 9],
        "intermittent": [5, 0, 5, 0, 5, 0, 5, 0, 5, 0, 5, 0],
        "lumpy": [1, 0, 9, 0, 1, 0, 9, 0, 1, 0, 9, 0],
        "rare": [0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0],
    }
    dates = days("2020-01-06", T, "W-MON")
    df = pd.DataFrame([(d, s, v[k]) for s, v in rows.items() for k, d in enumerate(dates)],
                      columns=["date", "sku", "demand"])
    data = demand_from_frame(df)
    table = load_items(write(tmp_path, "sku,lead_time,unit_cost\nsmooth,2,1\nrare,3,\n"
                                       .replace("3,\n", "3,4\n"), "it.csv"), data.skus)
    s = summarize(data, table, split_windows(data, test=0.25, val=0))
    assert s["classes"] == {"smooth": 1, "erratic": 1, "intermittent": 1, "lumpy": 1, "<2 nonzero": 1}
    assert (s["skus"], s["periods"], s["freq"], s["first_date"], s["last_date"]) == (5, 12, "W-MON", "2020-01-06",
                                                                                      "2020-03-23")
    assert s["zero_share"] == pytest.approx(np.mean(np.array(list(rows.values())) == 0))
    assert s["windows"]["test"] == {"start": "2020-03-09", "end": "2020-03-23", "periods": 3, "skus": 5,
                                    "sku_periods": 15}
    assert s["windows"]["val"]["periods"] == 0 and s["windows"]["val"]["start"] is None
    assert s["items"]["params"] == {"lead_time": 2, "unit_cost": 2}
    text = format_summary(s)
    assert "W-MON" in text and "lumpy: 1" in text and "train" in text and "lead_time" in text


# ------------------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def good_file(tmp_path):
    return write(tmp_path, long_csv(days("2020-01-01", 20), skus=("A", "B", "C")), "good.csv.gz")


def test_cli_good(good_file, tmp_path, capsys):
    it = write(tmp_path, "sku,lt,x\nA,2,0\nZ,3,0\n", "items.csv")
    assert main([str(good_file), "--items", str(it), "--items-columns", "lead_time=lt", "--ignore-unknown-items",
                 "--items-ignore", "x", "--train", "0.5", "--val", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "SKUs         3" in out and "20 (D)" in out and "lead_time" in out and "1 rows with unknown" in out


@pytest.mark.parametrize("args,fragment", [
    (["{missing}"], "no such file"),
    (["{bad}"], "line 3"),
    (["{good}", "--test", "2030-01-01"], "outside the data's range"),
    (["{good}", "--items", "{missing}"], "no such file"),
    (["{good}", "--items", "{items}"], "unknown SKU 'Z'"),
    (["{good}", "--items", "{items}", "--items-columns", "lead_time"], "expected NAME=VALUE"),
    (["{good}", "--ignore-unknown-items"], "need --items"),
    (["{good}", "--unknown-option"], "unrecognized arguments"),
])
def test_cli_errors_are_one_line_no_traceback(good_file, tmp_path, capsys, args, fragment):
    paths = {"missing": tmp_path / "missing.csv", "good": good_file,
             "bad": write(tmp_path, "date,sku,demand\n2020-01-01,A,1\n2020-01-02,A,-1\n", "bad.csv"),
             "items": write(tmp_path, "sku,lead_time\nZ,1\n", "items.csv")}
    assert main([a.format(**paths) for a in args]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and fragment in err and "Traceback" not in err


def test_cli_subprocess(good_file):
    res = subprocess.run([sys.executable, "-m", "envs.data", str(good_file), "--test", "2020-01-15"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "SKUs" in res.stdout and "test    2020-01-15  2020-01-20" in res.stdout
    res = subprocess.run([sys.executable, "-m", "envs.data", str(good_file) + ".nope.csv"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.startswith("error:") and "Traceback" not in res.stderr


# --------------------------------------------------------------------------------------------------- real data

REAL = {  # README table: SKUs, periods, freq, first and last date, SBC classes
    "carparts_monthly.csv.gz": (2674, 51, "MS", "1998-01-01", "2002-03-01", (3, 0, 2294, 347, 30)),
    "man_weekly.csv.gz": (1941, 150, "W-MON", "2012-01-02", "2014-11-10", (1, 23, 739, 879, 299)),
    "m5_tiny_daily.csv.gz": (280, 1913, "D", "2011-01-29", "2016-04-24", (50, 53, 124, 53, 0)),
}


def real_file(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"real data {path} not present")
    return path


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_data(name):
    skus, periods, freq, first, last, classes = REAL[name]
    data = load_demand(real_file(name))
    assert (data.n_skus, data.n_periods, data.freq) == (skus, periods, freq)
    assert (str(data.dates[0]), str(data.dates[-1])) == (first, last)
    assert data.filled == 0 and np.isnan(data.demand).any() == (name != "man_weekly.csv.gz")
    s = summarize(data, windows=split_windows(data))
    assert tuple(s["classes"].values()) == classes
    assert s["windows"]["train"]["skus"] > 0 and s["windows"]["test"]["skus"] > 0


def test_real_items():
    data = load_demand(real_file("man_weekly.csv.gz"))
    table = load_items(real_file("man_items.csv"), data.skus, columns=MAN_COLUMNS, ignore_unknown_skus=True,
                       scale={"holding_cost": 1 / 52}, ignore_columns=["any_demand"])
    assert table.ignored == 3451 - 1941
    assert set(table.values) == {"lead_time", "unit_cost", "order_cost", "holding_cost", "moq", "pack_size"}
    for v in table.values.values():
        assert v.shape == (1941,) and not np.isnan(v).any()
    assert set(np.unique(table.values["lead_time"])) <= {7.0, 16.0}
    assert np.all(table.values["order_cost"] == 5)
    with pytest.raises(DataError, match="unknown SKU"):
        load_items(real_file("man_items.csv"), data.skus, columns=MAN_COLUMNS, ignore_columns=["any_demand"])


def test_recent_demand_scale_from_the_chosen_window(tmp_path):
    """data.scale_periods N: each SKU's scale is the mean of its last N periods of the scale window (train, or
    train + val with data.scale_window fit); the whole window's mean where those are all 0, 1 where that is 0
    too; data.scale_prior shrinks the recent mean towards the window's. The default (the train window's mean) is
    unchanged."""
    from envs import Problem, kernel
    from envs.demand import demand_scales
    from envs.scenario import ScenarioError

    dates = pd.date_range("2022-01-03", periods=40, freq="W-MON")
    rising = np.r_[np.zeros(10), np.full(10, 1.0), np.full(10, 4.0), np.full(10, 8.0)]
    fading = np.r_[np.full(10, 2.0), np.full(10, 3.0), np.zeros(20)]
    rows = [pd.DataFrame({"date": dates, "sku": k, "demand": d}) for k, d in
            (("R", rising), ("F", fading), ("Z", np.zeros(40)))]
    path = tmp_path / "demand.csv"
    pd.concat(rows).to_csv(path, index=False)
    split = {"data.path": str(path), "data.val": "2022-05-23", "data.test": "2022-08-01"}  # 20 / 10 / 10 weeks

    def scales(**kw):
        return Problem("lost-sales-L1-p9", **split, **kw).params[:, kernel.SCALE]

    assert np.allclose(scales(), [2.5, 0.5, 1.0])  # SKUs F, R, Z (sorted): the train window's mean
    assert np.allclose(scales(**{"data.scale_periods": 5}), [3.0, 1.0, 1.0])
    fit = {"data.window": "fit", "data.scale_window": "fit"}
    assert np.allclose(scales(**fit), [5 / 3, 5 / 3, 1.0])
    # F's last 5 fit periods are 0: the fit window's mean; Z has no demand at all: 1
    assert np.allclose(scales(**fit, **{"data.scale_periods": 5}), [5 / 3, 4.0, 1.0])
    assert np.array_equal(demand_scales(np.array([[0.0, 2.0, 4.0]]), np.array([[0, 3]]), 2), [3.0])
    # the scale is part of the problem, not of the training episodes: evaluation (data.window dropped) keeps it
    assert np.allclose(scales(**{"data.scale_window": "fit", "data.scale_periods": 5}), [5 / 3, 4.0, 1.0])
    with pytest.raises(ScenarioError, match="scale_periods' must be >= 0"):
        scales(**{"data.scale_periods": -1})
    # data.scale_prior c: (the last N periods' sum + c x the window mean) / (N + c); F, dead for its last 5 fit
    # periods, gets a small scale rather than the window mean
    assert np.allclose(scales(**fit, **{"data.scale_periods": 5, "data.scale_prior": 1}), [5 / 18, 65 / 18, 1.0])
    assert np.allclose(scales(**{"data.scale_periods": 5, "data.scale_prior": 2}), [20 / 7, 6 / 7, 1.0])
    assert np.allclose(scales(**{"data.scale_prior": 2}), scales())  # no effect without scale_periods
    for bad in (-1, "x", True):
        with pytest.raises(ScenarioError, match="data.scale_prior. (must be a number >= 0|expects a number)"):
            scales(**{"data.scale_periods": 5, "data.scale_prior": bad})
