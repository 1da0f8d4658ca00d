"""Rules between columns: expressions, checks row by row, and the problems found before any fit."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.errors import MetadataError
from hiveframe.metadata import Column, ColumnKind, ForeignKey, Metadata, Table
from hiveframe.metadata import rules as R


def _table(*rules: dict) -> Metadata:
    cols = (Column("kind", ColumnKind.CATEGORICAL), Column("a", ColumnKind.NUMERICAL, dtype="double"),
            Column("b", ColumnKind.NUMERICAL, dtype="double"), Column("total", ColumnKind.NUMERICAL, dtype="double"),
            Column("code", ColumnKind.CATEGORICAL))
    return Metadata(tables=(Table("t", cols, constraints=tuple(rules)),))


DATA = pa.table({"kind": ["x", "y", "x", None], "a": [1.0, 2.0, None, 4.0], "b": [2.0, 2.5, 1.0, 3.0],
                 "total": [3.0, 4.5, None, 7.5], "code": ["A1", "B2", "A3", "C1"]})


def test_formula_checks_every_row_with_its_tolerance():
    rule = R.formula("total", "a + b")
    assert R.holds(rule, DATA).tolist() == [True, True, True, False]  # null input -> null result; 7 != 7.5
    assert R.holds(R.formula("total", "a + b", tolerance=0.5), DATA).tolist() == [True] * 4


def test_if_then_on_values_and_nulls():
    assert R.holds(R.if_then("kind == 'x'", "isnull(a)"), DATA).tolist() == [False, True, True, True]
    assert R.holds(R.if_then("a < 2", "b == 2"), DATA).tolist() == [True, True, True, True]
    assert R.holds(R.if_then("kind in ('x', 'y')", "notnull(total)"), DATA).tolist() == [True, True, False, True]


def test_string_slices_and_inequalities():
    data = DATA.append_column("letter", pa.array(["A", "B", "B", "C"]))
    assert R.holds(R.formula("letter", "code[0]"), data).tolist() == [True, True, False, True]
    assert R.holds(R.inequality("a", "b"), DATA).tolist() == [True, True, True, False]


def test_check_digits_luhn_and_iban():
    data = pa.table({"card": ["4539578763621486", "4539578763621487", None],
                     "iban": ["GB82WEST12345698765432", "GB83WEST12345698765432", "DE89370400440532013000"]})
    assert R.holds(R.check_digit("card", "luhn"), data).tolist() == [True, False, True]
    assert R.holds(R.check_digit("iban", "iban"), data).tolist() == [True, False, True]
    assert R.iban_digits("GB00WEST12345698765432") == "GB82WEST12345698765432"
    assert R.luhn_digit("453957876362148") == "6"


def test_unique_regex_fixed_combinations():
    data = pa.table({"k": ["a", "b", "a", None, None], "v": [1, 2, 1, 3, 3]})
    assert R.holds(R.unique("k"), data).tolist() == [True, True, False, True, True]
    assert R.holds(R.regex("k", "[ab]"), data).all()
    assert not R.holds(R.regex("k", "a"), data).all()
    combos = R.fixed_combinations(["k", "v"], [["a", 1], ["b", 2]])
    assert R.holds(combos, data).tolist() == [True, True, True, False, False]


def test_expressions_cannot_run_code():
    for text in ("__import__('os').system('true')", "a.__class__", "open('x')", "[x for x in a]", "lambda: 1"):
        with pytest.raises(ValueError, match="not allowed|not valid|only"):
            R.Expression(text)


def test_an_amortized_payment_is_a_formula_users_can_write():
    expr = R.Expression("amount * (rate / 1200) / (1 - (1 + rate / 1200) ** (-months))")
    value = expr.evaluate({"amount": np.array([10000.0]), "rate": np.array([6.0]), "months": np.array([36.0])})
    assert value[0] == pytest.approx(304.22, abs=0.005)


def test_unknown_column_is_named_with_a_hint():
    with pytest.raises(MetadataError) as err:
        R.raise_rule_problems(_table(R.formula("totl", "a + bb")))
    text = str(err.value)
    assert "unknown column 'totl'" in text and "'total'" in text and "unknown column 'bb'" in text


def test_contradictory_rules_are_refused():
    md = _table(R.formula("total", "a + b"), R.formula("total", "a * b"), R.range_rule("a", 0, 1),
                R.range_rule("a", 2, 3), R.if_then("kind == 'x'", "b == 1"), R.if_then("kind == 'x'", "b == 2"),
                R.inequality("a", "b", strict=True), R.inequality("b", "a"), R.formula("a", "b + 1"),
                R.formula("b", "a - 1"))
    text = str(pytest.raises(MetadataError, R.raise_rule_problems, md).value)
    assert "computed by two formulas" in text
    assert "leave no value for 'a'" in text
    assert "give 'b' two values" in text
    assert "force a value below itself" in text
    assert "formulas compute" in text


def test_malformed_rules_are_refused():
    md = _table({"type": "formla", "column": "a"}, {"type": "regex", "column": "code", "pattern": "("},
                {"type": "check_digit", "column": "code", "scheme": "verhoeff"}, {"type": "if_then", "if": "a >"})
    text = str(pytest.raises(MetadataError, R.raise_rule_problems, md).value)
    assert "unknown rule type 'formla'" in text and "formula" in text
    assert "not a valid regular expression" in text
    assert "unknown check-digit scheme" in text
    assert "lacks then" in text or "not valid" in text


def test_a_rule_the_real_data_breaks_is_reported_with_its_share_and_refused_unless_forced():
    md = _table(R.formula("total", "a + b"))
    with pytest.raises(MetadataError) as err:
        R.check_rules(md, {"t": DATA})
    assert "1 of 4 rows (25.00%), first at row 3" in str(err.value)
    assert "force" in str(err.value)
    found = R.check_rules(md, {"t": DATA}, force=True)
    assert [(v.rows, v.first_row) for v in found] == [(1, 3)]


def test_order_across_a_foreign_key_reads_the_parent():
    parent = Table("orders", (Column("id", ColumnKind.ID, dtype="int64"),
                              Column("placed", ColumnKind.NUMERICAL, dtype="double")), primary_key=("id",))
    child = Table("items", (Column("order_id", ColumnKind.ID, dtype="int64"),
                            Column("shipped", ColumnKind.NUMERICAL, dtype="double")),
                  constraints=(R.inequality("placed", "shipped", low_table="orders"),))
    md = Metadata(tables=(parent, child), foreign_keys=(ForeignKey("items", ("order_id",), "orders", ("id",)),))
    db = {"orders": pa.table({"id": [1, 2], "placed": [10.0, 20.0]}),
          "items": pa.table({"order_id": [1, 2, 2], "shipped": [11.0, 19.0, 25.0]})}
    with pytest.raises(MetadataError, match="1 of 3 rows"):
        R.check_rules(md, db)
    wrong = Metadata(tables=(parent, Table("items", child.columns, constraints=(
        R.inequality("placed", "shipped", low_table="customers"),))), foreign_keys=md.foreign_keys)
    assert "no foreign key to 'customers'" in str(pytest.raises(MetadataError, R.raise_rule_problems, wrong).value)


def test_rules_round_trip_through_json_and_detection_records_are_stripped():
    rule = {**R.formula("total", "a + b"), "detection": {"support": 1.0, "rows": 4, "rows_against": 0}}
    md = _table().with_rule("t", rule)
    back = Metadata.from_json(md.to_json())
    assert back.table("t").constraints == (rule,)
    assert back.without_detection().table("t").constraints == (R.formula("total", "a + b"),)


def test_precision_ignores_a_few_noisy_values():
    x = np.array([1.25, 2.5, 3.75] * 1000 + [1.123456])
    assert R.precision(x) == 2
    assert R.precision(x, share=1.0) == 6
    assert R.precision(np.array([0.1234567891, 0.2])) is None
