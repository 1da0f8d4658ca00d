"""The sequences benchmark's own logic: the AirBnB booking rules and the summary it writes."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from benchmarks.bench_sequences import booking_rules, summarize


def test_booking_rules_count_early_bookings_and_missing_dates_outside_ndf():
    day = dt.date(2014, 1, 10)
    users = pa.table({
        "date_account_created": [day, day, day, day],
        "date_first_booking": [dt.date(2014, 1, 9), dt.date(2014, 1, 11), None, None],
        "country_destination": ["US", "FR", "NDF", "US"],
    })
    assert booking_rules(users) == {"booking_before_account": 1, "null_booking_not_ndf": 1}


def test_summary_lists_every_configuration_and_the_real_rule_counts():
    figures = {"sessions_as_sequences": True, "fit_seconds": 141.4, "sample_seconds": 2.7, "detection_users": 0.508,
               "detection_sessions": 0.525, "detection_users_with_aggregates": 0.591, "children_per_user": 0.992,
               "integrity_problems": 0, "rules": {"booking_before_account": 1050, "null_booking_not_ndf": 1}}
    results = {"command": "python -m benchmarks.bench_sequences --threads 1", "args": {"seed": 0, "threads": 1},
               "real": {"rules": {"booking_before_account": 3, "null_booking_not_ndf": 0}},
               "configs": {"default": {**figures, "sessions_as_sequences": False}, "autoregressive": figures},
               "load_average_before": [1.0, 2.0, 3.0], "load_average_after": [2.0, 2.0, 2.0]}
    text = summarize(results)
    assert "| figure | default | autoregressive |" in text
    assert "| sessions generated as sequences | no | yes |" in text
    assert "| users + their sessions' aggregates detection | 0.591 | 0.591 |" in text
    assert "| fit (s) | 141.4 | 141.4 |" in text
    assert "(real 3) | 1050 | 1050 |" in text and "1.00, 2.00, 3.00 / 2.00" in text


def test_extra_parameters_reach_both_tables_and_seeds_name_the_columns():
    import argparse

    import pytest

    from benchmarks.bench_sequences import param_argument, synthesizer
    from hiveframe.metadata import Column, ColumnKind
    from tests.conftest import users_sessions_metadata

    assert param_argument("offsets=false") == ("offsets", False) and param_argument("device=cpu") == ("device", "cpu")
    with pytest.raises(argparse.ArgumentTypeError):
        param_argument("offsets")
    md = users_sessions_metadata(Column("secs", ColumnKind.NUMERICAL, dtype="double"))
    args = argparse.Namespace(seed=0, epochs=2, threads=1, params=[("offsets", False)])
    assert synthesizer("autoregressive", md, args).generator_params == {"epochs": 2, "threads": 1, "offsets": False}
    results = {"command": "c", "args": {"seed": 0, "seeds": [0, 1], "threads": 1},
               "real": {"rules": {"booking_before_account": 3, "null_booking_not_ndf": 0}},
               "configs": {"autoregressive (seed 0)": {}, "autoregressive (seed 1)": {}},
               "load_average_before": [1.0, 1.0, 1.0], "load_average_after": [1.0, 1.0, 1.0]}
    assert "seed(s) 0, 1" in summarize(results) and "| autoregressive (seed 0) | autoregressive (seed 1) |" in \
        summarize(results)
