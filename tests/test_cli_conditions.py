"""``hiveframe sample --condition/--balance`` end to end: a model fitted by the CLI, sampled by the CLI."""

from __future__ import annotations

import collections
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from hiveframe.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def census_model(shared_data, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("census")
    (root / "src").mkdir()
    table = pacsv.read_csv(shared_data / "census_adult" / "census.csv.gz").slice(0, 3000)
    pacsv.write_csv(table, root / "src" / "census.csv")
    assert main(["fit", str(root / "src"), "-o", str(root / "model"), "-q"]) == 0
    return root


def test_sample_with_a_condition_and_a_range(census_model, tmp_path, capsys) -> None:
    code, out, err = run(capsys, "sample", census_model / "model", "-o", tmp_path / "out", "--rows", "census=300",
                         "--condition", "census.income=>50K", "--condition", "census.age=30..40")
    assert code == 0, err
    table = pq.read_table(tmp_path / "out" / "census.parquet")
    assert table.num_rows == 300
    assert set(table.column("income").to_pylist()) == {">50K"}
    ages = table.column("age").to_pylist()
    assert min(ages) >= 30 and max(ages) <= 40
    assert "conditions on census: native+rejection" in out and "acceptance" in out


def test_sample_balanced(census_model, tmp_path, capsys) -> None:
    code, out, err = run(capsys, "sample", census_model / "model", "-o", tmp_path / "out", "--rows", "census=200",
                         "--balance", "census.income")
    assert code == 0, err
    table = pq.read_table(tmp_path / "out" / "census.parquet")
    assert collections.Counter(table.column("income").to_pylist()) == {">50K": 100, "<=50K": 100}


@pytest.mark.parametrize(("args", "message"), [
    (["--balance", "census.age"], "balance needs a categorical or boolean column; this one is numerical"),
    (["--condition", "census.income=>60K"], "condition value '>60K' was never seen when fitting"),
    (["--condition", "census.age=300"], "condition value '300' is outside the range seen when fitting"),
    (["--condition", "census.incme=>50K"], "column 'incme': no such column"),
    (["--condition", "people.income=>50K"], "table 'people': no such table"),
    (["--condition", "income=>50K"], "is not TABLE.COLUMN=VALUE"),
    (["--condition", "census.income=>50K", "--engine", "spark"], "--condition, --balance and --qa sample locally only"),
])
def test_bad_conditions_fail_with_one_clear_error(census_model, tmp_path, capsys, args, message) -> None:
    code, _, err = run(capsys, "sample", census_model / "model", "-o", tmp_path / "out", *args)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
