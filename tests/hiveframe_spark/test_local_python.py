"""Local Spark sessions run their Python workers with the driver's interpreter, and Spark's log follows
hiveframe's level."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("pyspark")

from hiveframe_spark.session import local_settings, spark_log_level  # noqa: E402

pytestmark = pytest.mark.spark


def test_workers_use_this_interpreter_unless_the_user_chose_one():
    assert local_settings("local[2]", env={})["spark.pyspark.python"] == sys.executable
    assert "spark.pyspark.python" not in local_settings("local[2]", env={"PYSPARK_PYTHON": "/opt/py"})
    assert "spark.pyspark.python" not in local_settings("local[2]", {"spark.pyspark.python": "/opt/py"}, env={})
    assert "spark.pyspark.python" not in local_settings("spark://cluster:7077", env={})  # remote: their Python


@pytest.mark.parametrize(("level", "spark"), [(logging.DEBUG, "INFO"), (logging.INFO, "WARN"),
                                              (logging.WARNING, "ERROR"), (logging.ERROR, "ERROR")])
def test_spark_log_level_follows_hiveframe(level, spark):
    assert spark_log_level(level) == spark
    options = local_settings("local[2]", env={})["spark.driver.extraJavaOptions"]
    config = Path(options.split("=", 1)[1]).read_text()
    assert f"rootLogger.level = {spark_log_level()}" in config


PROBE = textwrap.dedent("""
    import sys
    from hiveframe_spark.session import get_or_create
    spark = get_or_create(local=True)
    print("WORKERS", spark.sparkContext.parallelize([1, 2], 2).map(lambda _: 1).sum())
""")


def test_workers_start_without_a_usable_python_on_path(tmp_path):
    """The first `python3` on PATH is broken (as for a CLI run from a venv that is not activated):
    the job still runs, and Spark prints no log lines at hiveframe's default level."""
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("python3", "python"):
        (fake / name).write_text("#!/bin/sh\nexit 3\n")
        (fake / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYSPARK_PYTHON"}
    env["PATH"] = f"{fake}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert "WORKERS 2" in done.stdout, done.stderr[-3000:]
    noise = [line for line in done.stderr.splitlines()
             if line.strip() and not line.startswith("WARNING: Using incubator modules")]
    assert not noise, done.stderr[-3000:]
