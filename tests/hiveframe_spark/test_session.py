"""Starting Spark: one clear message when Java is missing or the JVM does not start."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("pyspark")

pytestmark = pytest.mark.spark

PROBE = textwrap.dedent("""
    import logging
    from hiveframe_spark.session import get_or_create
    try:
        get_or_create(local=True)
    except Exception as exc:
        print("ERROR", type(exc).__name__)
        print(exc)
    else:
        print("STARTED")
""")


def run_probe(java_home: str) -> str:
    env = {**os.environ, "JAVA_HOME": java_home}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=180)
    return done.stdout


def test_missing_java_names_what_to_install(tmp_path):
    out = run_probe(str(tmp_path / "no-java-here"))
    assert "ERROR SparkUnavailableError" in out
    assert "JAVA_HOME" in out and "bin/java" in out
    assert "openjdk-17" in out and "hint:" in out
    assert "Traceback" not in out and "py4j" not in out.lower()


def test_java_that_cannot_start_spark(tmp_path):
    """A java that answers -version but dies when Spark launches it: the JVM failure, said once."""
    home = tmp_path / "fake-jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text('#!/bin/sh\nif [ "$1" = "-version" ]; then echo \'openjdk version "17.0.9"\' >&2; exit 0; fi\n'
                    'echo "Error: could not create the Java Virtual Machine" >&2\nexit 1\n')
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    out = run_probe(str(home))
    assert "ERROR SparkUnavailableError" in out
    assert "Spark failed to start" in out and "openjdk-17" in out


def test_old_java_is_refused(tmp_path):
    home = tmp_path / "old-jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text('#!/bin/sh\necho \'java version "1.8.0_392"\' >&2\n')
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    from hiveframe_spark.session import java_problem, spark_major

    problem = java_problem({"JAVA_HOME": str(home), "PATH": os.environ.get("PATH", "")})
    if spark_major() >= 4:
        assert problem is not None and "Java 8" in problem and "17" in problem
    else:
        assert problem is None


def test_plugin_module_stays_light():
    code = ("import sys, hiveframe_spark.plugin, hiveframe_spark.io, hiveframe_spark.sampling, "
            "hiveframe_spark.training\nprint(sorted(m for m in ('pyspark', 'polars', 'torch', 'pandas') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_task_errors_are_summarised_in_one_line():
    from hiveframe_spark.session import error_summary

    text = ("An exception was thrown from the Python worker:\nTraceback (most recent call last):\n"
            '  File "x.py", line 3, in f\n    g()\nKeyError: \'derived\'\n\tat org.apache.spark.Foo(Foo.scala:1)')
    assert error_summary(Exception(text)) == "KeyError: 'derived'"
    assert error_summary(Exception("[PATH_NOT_FOUND] Path does not exist: /x\nmore")) == (
        "[PATH_NOT_FOUND] Path does not exist: /x")
