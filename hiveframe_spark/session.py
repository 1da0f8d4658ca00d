"""Getting a SparkSession: the user's, the active one, or a local one created on request.

Starting Spark needs Java. When Java is missing or the JVM does not start, the user gets *one*
:class:`SparkUnavailableError` saying what to install, instead of a py4j traceback and a page of JVM
log lines.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hiveframe.errors import MissingDependencyError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

PLUGIN = "spark"
#: settings hiveframe puts on the local sessions it creates (a user's own session is left alone,
#: except for Arrow transfers, which hiveframe turns on).
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.memory": "1g",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
}
ARROW_CONF = "spark.sql.execution.arrow.pyspark.enabled"
JAVA_HINT = (
    "install a Java runtime Spark supports (Java 17 or 21 for Spark 4; 8, 11 or 17 for Spark 3.5), "
    "e.g. `apt-get install openjdk-17-jre-headless` or `brew install openjdk@17`, and set JAVA_HOME to "
    "it (or unset JAVA_HOME when `java` is on PATH)"
)


class SparkUnavailableError(MissingDependencyError):
    """Spark cannot be used here: pyspark is not installed, Java is missing, or the JVM failed."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, plugin=PLUGIN, hint=hint)


def require_pyspark() -> Any:
    """Import pyspark or say which extra installs it."""
    try:
        import pyspark
    except ImportError:
        raise SparkUnavailableError("pyspark is not installed",
                                    hint="pip install 'hiveframe[spark]'") from None
    return pyspark


def spark_major() -> int:
    pyspark = require_pyspark()
    return int(pyspark.__version__.split(".")[0])


def java_problem(env: Mapping[str, str] | None = None) -> str | None:
    """Why Spark cannot find a usable ``java`` (``None`` when one is found and recent enough)."""
    env = os.environ if env is None else env
    home = env.get("JAVA_HOME")
    if home:
        java = os.path.join(home, "bin", "java")
        if not (os.path.isfile(java) and os.access(java, os.X_OK)):
            return f"JAVA_HOME is {home!r}, which has no bin/java"
    else:
        java = shutil.which("java", path=env.get("PATH"))
        if java is None:
            return "no `java` found: JAVA_HOME is not set and java is not on PATH"
    version = _java_major(java)
    if version is None:
        return f"{java} -version did not run"
    needed = 17 if spark_major() >= 4 else 8
    if version < needed:
        return f"{java} is Java {version}; this pyspark needs Java {needed} or newer"
    return None


def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def get_or_create(
    spark: SparkSession | None = None,
    *,
    local: bool = True,
    master: str = "local[2]",
    app_name: str = "hiveframe",
    config: Mapping[str, Any] | None = None,
) -> SparkSession:
    """The session to use: ``spark`` if given, else the active one, else a local one (``local=True``).

    Arrow transfers (``spark.sql.execution.arrow.pyspark.enabled``) are turned on in every case.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    if spark is None:
        spark = SparkSession.getActiveSession()
    if spark is None:
        if not local:
            from hiveframe.errors import ConfigError

            raise ConfigError("no SparkSession is active",
                              hint="pass spark=<your SparkSession>, or local=True to start a local one")
        spark = _start_local(master=master, app_name=app_name, config=config)
    enable_arrow(spark)
    return spark


def enable_arrow(spark: SparkSession) -> None:
    try:
        spark.conf.set(ARROW_CONF, "true")
    except Exception:  # noqa: BLE001 - some managed sessions forbid changing confs; Arrow stays as set
        log.debug("could not set %s", ARROW_CONF, exc_info=True)


def _start_local(*, master: str, app_name: str, config: Mapping[str, Any] | None) -> SparkSession:
    from pyspark.sql import SparkSession

    problem = java_problem()
    if problem is not None:
        raise SparkUnavailableError(f"Spark cannot start: {problem}", hint=JAVA_HINT)
    builder = SparkSession.builder.master(master).appName(app_name)
    settings = {**LOCAL_DEFAULTS, **local_settings(master, config), **{k: str(v) for k, v in (config or {}).items()}}
    for key, value in settings.items():
        builder = builder.config(key, value)
    if "spark.pyspark.python" in settings and not os.environ.get("PYSPARK_PYTHON"):
        # pyspark's SparkContext reads the workers' interpreter from this variable only (the setting
        # covers the JVM side); unset means the user left the choice to us
        os.environ["PYSPARK_PYTHON"] = settings["spark.pyspark.python"]
    log.info("starting a local Spark session (%s)", master)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - py4j/pyspark raise many types; one message for all
        log.debug("Spark failed to start", exc_info=True)
        raise SparkUnavailableError(
            f"Spark failed to start: {type(exc).__name__}: {_first_line(exc)}", hint=JAVA_HINT,
        ) from None
    try:
        spark.sparkContext.setLogLevel(spark_log_level())
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext
        pass
    return spark


def spark_log_level(level: int | None = None) -> str:
    """Spark's log level for hiveframe's (the ``hiveframe`` logger's effective level by default).

    Spark is one step quieter than hiveframe: hiveframe's INFO (``-v``) shows Spark's warnings, its DEBUG
    (``--debug``) Spark's INFO; by default only Spark's errors get through.
    """
    if level is None:
        level = logging.getLogger("hiveframe").getEffectiveLevel()
    if level <= logging.DEBUG:
        return "INFO"
    if level <= logging.INFO:
        return "WARN"
    return "ERROR"


def local_settings(master: str, config: Mapping[str, Any] | None = None,
                   env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Settings of a local session that depend on this process.

    - The Python workers run this very interpreter (``sys.executable``), unless the user chose one
      (``PYSPARK_PYTHON`` or ``spark.pyspark.python``): otherwise Spark starts the first ``python3`` on
      PATH, which lacks hiveframe whenever the CLI runs from a virtualenv that is not activated.
    - The JVM starts with its root log level following hiveframe's (see :func:`spark_log_level`), so
      the lines Spark prints before a log level can be set (log4j, NativeCodeLoader) follow it too.
    """
    import sys

    env = os.environ if env is None else env
    config = config or {}
    out: dict[str, str] = {}
    if master.startswith("local") and not env.get("PYSPARK_PYTHON") and "spark.pyspark.python" not in config:
        out["spark.pyspark.python"] = sys.executable
    if "spark.driver.extraJavaOptions" not in config:
        out["spark.driver.extraJavaOptions"] = f"-Dlog4j.configurationFile={_log4j_file(spark_log_level())}"
    return out


def _log4j_file(level: str) -> str:
    """A log4j2 configuration (stderr, the given root level) in the temp folder, written once per level.

    The JVM reads it as it starts, before any Python code could call ``setLogLevel``.
    """
    import tempfile
    from pathlib import Path

    path = Path(tempfile.gettempdir()) / f"hiveframe-spark-log4j2-{level}.properties"
    text = (f"rootLogger.level = {level}\nrootLogger.appenderRef.stderr.ref = console\n"
            "appender.console.type = Console\nappender.console.name = console\n"
            "appender.console.target = SYSTEM_ERR\nappender.console.layout.type = PatternLayout\n"
            "appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex\n"
            # pyspark's gateway counts as a shell: Spark sets the root level to this logger's (WARN
            # unless configured) and says so on stderr; the same level keeps it quiet
            f"logger.repl.name = org.apache.spark.repl.Main\nlogger.repl.level = {level}\n"
            f"logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer\n"
            f"logger.gateway.level = {level}\n")
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return str(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def error_summary(exc: BaseException) -> str:
    """One line that says what went wrong in a Spark job: the Python error raised in a task if any
    (Spark wraps it under pages of JVM frames), else the first line of Spark's message."""
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if "Traceback" in text or type(exc).__name__ == "PythonException":
        for line in reversed(lines):
            if not line.startswith(("at ", "File ", "^", "~")) and ("Error" in line or "Exception" in line):
                return line[:500]
    return lines[0][:500] if lines else type(exc).__name__
