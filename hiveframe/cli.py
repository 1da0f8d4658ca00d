"""The ``hiveframe`` command line: detect, fit, sample, plugins, demo, report.

Every command builds one :class:`~hiveframe.plugins.PluginHost` (honouring ``--block-plugin`` and
``HIVEFRAME_BLOCK_PLUGINS``) and registers a small progress plugin on it: its ``wrapper=True``
implementations of ``hiveframe_fit_table`` / ``hiveframe_sample_table`` print one line per table on
stderr, which is exactly what the wrapper hooks exist for. Results and summaries go to stdout.

Errors: a :class:`~hiveframe.errors.HiveframeError` becomes one message on stderr and exit status 2
(usage or configuration: :class:`~hiveframe.errors.ConfigError`) or 1 (anything else); the traceback
is shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe._version import __version__
from hiveframe.engines import LOCAL
from hiveframe.errors import ConfigError, HiveframeError, SourceError, describe_os_error, did_you_mean
from hiveframe.pipeline.progress import ProgressPlugin

if TYPE_CHECKING:

    from hiveframe.components import Database
    from hiveframe.engines import SampleEngine
    from hiveframe.metadata import Metadata
    from hiveframe.pipeline import Synthesizer
    from hiveframe.plugins import PluginHost

log = logging.getLogger("hiveframe.cli")

SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
FORMATS = ("parquet", "csv", "jsonl", "sqlite")
DEMO_DIR = "hiveframe-demo"
ORPHAN_CHOICES = ("drop", "null", "keep")


# -- progress: hiveframe.pipeline.progress.ProgressPlugin, registered on the CLI's host --------------


# -- argument parsing -----------------------------------------------------------------------------
def _parse_value(text: str) -> Any:
    """JSON when it parses (``5``, ``0.1``, ``true``, ``[1, 2]``), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _dp_line(dp: dict[str, Any], left: Mapping[str, int]) -> str:
    """The fit's last line under DP: epsilon per root entity, the per-row figure, what the caps left out
    (exact counts, shown to whoever runs the fit and never saved in the model)."""
    unit = dp.get("privacy_unit", "row")
    text = (f"differential privacy: epsilon {dp.get('epsilon_spent', 0.0):.3f} per {unit} "
            f"(budget {float(dp.get('epsilon') or 0):g}), epsilon {dp.get('epsilon_per_row', 0.0):.3f} per row")
    if left:
        text += "; left out of training (children beyond the cap): " + ", ".join(f"{t} {n}" for t, n in left.items())
    return f"{text}; {dp.get('guarantee')}"


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), _parse_value(value)


def _table_key_value(text: str) -> tuple[str, str, Any]:
    left, sep, value = text.partition("=")
    table, dot, key = left.rpartition(".")
    if not sep or not dot or not table or not key:
        raise argparse.ArgumentTypeError(f"expected TABLE.KEY=VALUE, got {text!r}")
    return table, key, _parse_value(value)


def _number(cast: Callable[[str], Any], accept: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse ``type``: ``cast(text)`` when ``accept`` takes it, else one message saying what was expected."""
    def parse(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_share = _number(float, lambda v: 0.0 <= v <= 1.0, "a number between 0 and 1")
_positive_float = _number(float, lambda v: v > 0 and math.isfinite(v), "a positive finite number")
_seed = _number(int, lambda v: v >= 0, "a non-negative integer")
_fraction = _number(float, lambda v: 0 < v < 1, "a fraction between 0 and 1")


def _table_rows(text: str) -> tuple[str, int]:
    table, sep, value = text.rpartition("=")
    try:
        if not sep or not table:
            raise argparse.ArgumentTypeError(text)
        return table, _seed(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected TABLE=N with N a non-negative integer, got {text!r}") from None


def build_parser(host: PluginHost | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``host``, its plugins' engines (``sample --engine``) and subcommands."""
    # Global options work before or after the command (`hiveframe --debug fit ...` or `fit ... --debug`):
    # SUPPRESS keeps a subcommand's unset option from overwriting the top-level one.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks and debug logging")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log progress details (logging level INFO)")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress lines on stderr")
    common.add_argument("--block-plugin", action="append", metavar="NAME", default=argparse.SUPPRESS,
                        help="do not load this plugin (repeatable; also env HIVEFRAME_BLOCK_PLUGINS=a,b)")

    parser = argparse.ArgumentParser(
        prog="hiveframe", parents=[common],
        description="Learn a real relational database and generate a synthetic one.",
    )
    parser.add_argument("--version", action="version", version=f"hiveframe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("detect", parents=[common], help="detect metadata (types, keys) from data",
                       description="Detect tables, column types, primary and foreign keys.")
    p.add_argument("source", help="folder of .parquet/.csv/.csv.gz/.jsonl files, or a SQLite file")
    p.add_argument("-o", "--output", metavar="METADATA_JSON",
                   help="where to write the metadata JSON (default: print it)")
    p.add_argument("--threshold", type=_share, default=0.5, metavar="CONFIDENCE",
                   help="keep inferred keys whose confidence reaches this (0-1, default 0.5)")
    p.add_argument("--max-orphan-share", type=_share, default=0.1, metavar="SHARE",
                   help="propose a foreign key whose child rows find no parent up to this share (default 0.1)")
    p.add_argument("--sample-rows", type=int, default=200_000, metavar="N",
                   help="check value containment on at most N rows per table (default 200000)")
    p.add_argument("--no-rules", dest="rules", action="store_false",
                   help="do not propose rules between columns (formulas, nulls that follow a category, date order)")
    p.add_argument("--min-rule-support", type=_share, default=0.999, metavar="SHARE",
                   help="propose a rule that holds on at least this share of the rows it applies to (default 0.999)")
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("fit", parents=[common], help="fit a model on real data and save it",
                       description="Fit a synthesizer on SOURCE and save the model directory.")
    p.add_argument("source", help="folder of tables or a SQLite file")
    p.add_argument("--metadata", metavar="METADATA_JSON", help="metadata JSON (default: detect it)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL_DIR", help="model directory to write")
    p.add_argument("--generator", metavar="NAME", help="table generator for every table "
                   "(default gaussian_copula; see `hiveframe plugins`)")
    p.add_argument("--param", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="generator parameter, VALUE parsed as JSON when possible (repeatable)")
    p.add_argument("--table-param", action="append", type=_table_key_value, default=[],
                   metavar="TABLE.KEY=VALUE", help="generator parameter for one table (repeatable)")
    p.add_argument("--batches", action="append", type=_table_rows, default=[], metavar="TABLE=MAX_WIDTH",
                   help="learn a wide table in column batches of at most MAX_WIDTH columns, each with its own "
                   "model (--generator, --param); batches train in parallel processes when they take long enough "
                   "to pay for them, else one after another (--table-param TABLE.workers=N sets the processes; "
                   "the batches plugin; repeatable)")
    p.add_argument("--seed", type=_seed, default=None, help="random seed (default 0)")
    p.add_argument("--orphans", choices=ORPHAN_CHOICES, default=None,
                   help="child rows whose foreign key has no parent: drop them, set their key to null, or keep "
                   "them (parent-less rows generated at the real rate); default: an error listing them. A policy "
                   "in the metadata (\"orphans\" on a foreign key) wins")
    p.add_argument("--drop-orphans", action="store_true", help="the same as --orphans drop")
    p.add_argument("--dp", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="train with differential privacy, per person (root entity): epsilon=3 (required), "
                   "max_children=10, delta, max_rows, max_grad_norm, noise_multiplier, preprocess_share, allow_non_dp=true, "
                   "detect_metadata=true ... (repeatable; needs --metadata unless detect_metadata=true)")
    p.add_argument("--pii", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="PII replacement options: default_strategy=fake|hash|mask|drop|keep, consistent=true, "
                   "locale=de_DE (repeatable)")
    p.add_argument("--pii-strategy", action="append", type=_key_value, default=[],
                   metavar="TABLE.COLUMN=STRATEGY", help="PII strategy for one column, or for a PII kind "
                   "(email=hash) (repeatable)")
    p.add_argument("--null-handling", action="append", default=[], metavar="MODE|TABLE=MODE",
                   help="missing values: model (default), mean, drop; for every table or one (repeatable)")
    p.add_argument("--report", metavar="DIR", default=None,
                   help="after fitting, sample once and write the quality report (report.html, report.json) to DIR "
                   "(a new folder or an earlier report: a folder with other files is refused before fitting)")
    p.add_argument("--target", metavar="TABLE.COLUMN", default=None,
                   help="with --report: the column for train-on-synthetic utility figures")
    p.add_argument("--checkpoint-dir", metavar="DIR", default=None,
                   help="keep training checkpoints in DIR (generators that support them, e.g. ctgan), so that "
                   "an interrupted fit can be continued with --resume")
    p.add_argument("--resume", action="store_true",
                   help="with --checkpoint-dir: continue an interrupted fit from its last checkpoints "
                   "(same source, metadata and parameters give the same model as an uninterrupted fit)")
    p.add_argument("--holdout", type=_fraction, default=None, metavar="FRACTION",
                   help="keep this share of the entities (e.g. 0.2) out of training, recorded in the model, so "
                   "the report compares with real rows the generator never saw")
    p.add_argument("--force-rules", action="store_true",
                   help="enforce declared rules that the real rows break (default: refused, naming the share of rows)")
    engines = host.hooks.engines() if host is not None else {}
    fitting = {name: engine for name, engine in engines.items() if engine.fits}
    p.add_argument("--engine", default=LOCAL, metavar="NAME",
                   help="local (default): fit in this process; " + "; ".join(
                       f"{name}: {engine.fit_help or engine.help}" for name, engine in fitting.items())
                   + " (engines that can fit, from plugins: `hiveframe plugins`)")
    p.set_defaults(func=cmd_fit, engine_options=_engine_options(p, fitting, fit=True))

    p = sub.add_parser("sample", parents=[common], help="sample a synthetic database from a model",
                       description="Sample a synthetic database and write it to OUT.")
    p.add_argument("model", metavar="MODEL_DIR", help="model directory written by `hiveframe fit`")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output folder, or a .sqlite file")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--scale", type=_positive_float, default=None,
                      help="size relative to the real data (default 1)")
    size.add_argument("--rows", action="append", type=_table_rows, default=None, metavar="TABLE=N",
                      help="rows of a root table (repeatable)")
    p.add_argument("--seed", type=_seed, default=None, help="random seed (default: the model's)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="output format (default: sqlite for a .sqlite OUT, else parquet)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT whole when it holds hiveframe output, even with other files in it "
                   "(a folder or database hiveframe did not write is never replaced)")
    engines = host.hooks.engines() if host is not None else {}
    p.add_argument("--engine", default=LOCAL, metavar="NAME",
                   help="local (default): in this process; " + "; ".join(
                       f"{name}: {engine.help}" for name, engine in engines.items())
                   + " (engines come from plugins: `hiveframe plugins`)")
    p.add_argument("--condition", action="append", default=None, metavar="TABLE.COLUMN=VALUE",
                   help="rows with this value (repeatable; the first '=' splits, so 'census.income=>50K' is "
                   "income '>50K'); 'TABLE.COLUMN=A..B' (or A.., ..B) keeps a numeric or date column in a range")
    p.add_argument("--balance", action="append", default=None, metavar="TABLE.COLUMN",
                   help="equal rows per class of a categorical column (repeatable, one column per table)")
    p.add_argument("--qa", nargs="?", const="all", default=None, metavar="FILTERS",
                   help="remove rows that fail QA filters, and the rows that reference them: all (default) or "
                   "a comma list of schema, range, constraint, diversity, memorization (memorization needs --real)")
    p.add_argument("--real", metavar="SOURCE", default=None,
                   help="with --qa: the real data (the model holds no real rows); turns on memorization filtering")
    p.set_defaults(func=cmd_sample, engine_options=_engine_options(p, engines))

    p = sub.add_parser("plugins", parents=[common], help="list plugins, their status and components")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("demo", parents=[common], help="the main job on the bundled Chinook database",
                       description="Fit the bundled Chinook database with the default generator and write "
                       "a synthetic SQLite copy with a short summary.")
    p.add_argument("-o", "--output", default=DEMO_DIR, metavar="OUT", help=f"output folder (default {DEMO_DIR})")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT whole when it holds hiveframe output, even with other files in it "
                   "(a folder hiveframe did not write is never replaced)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("report", parents=[common], help="compare synthetic data with real data",
                       description="Write a validation report (needs the validators plugin).")
    p.add_argument("real", help="real data (folder or SQLite file)")
    p.add_argument("synthetic", help="synthetic data (folder or SQLite file)")
    p.add_argument("--metadata", metavar="METADATA_JSON", help="metadata JSON (default: detect on REAL)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="report folder")
    p.add_argument("--target", metavar="TABLE.COLUMN",
                   help="target column for train-on-synthetic, test-on-real (COLUMN alone when one table has it)")
    p.add_argument("--model", metavar="MODEL_DIR", default=None,
                   help="the model that made SYNTH: its seed, its privacy guarantees (DP budget spent, PII "
                   "strategies) and the holdout it kept at fit time (fit --holdout) are used")
    p.add_argument("--holdout", metavar="HOLDOUT", default=None,
                   help="real rows the generator never saw (folder or SQLite file, same tables as REAL): "
                   "unbiased privacy and utility figures and the membership-inference attack")
    p.add_argument("--overwrite", action="store_true",
                   help="replace DIR whole when it holds hiveframe output, even with other files in it "
                   "(a folder hiveframe did not write is never replaced)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("profile", parents=[common], help="profile a real database (schema, statistics, keys)",
                       description="Write a data profile of SOURCE: schema, per-column statistics, "
                       "correlations, detected rules and key structure (format: docs/profile.md).")
    p.add_argument("source", help="folder of tables or a SQLite file")
    p.add_argument("-o", "--output", metavar="PROFILE_JSON", default=None,
                   help="where to write the profile JSON (a new file; default: print it)")
    p.add_argument("--metadata", metavar="METADATA_JSON", help="metadata JSON (default: detect it)")
    p.set_defaults(func=cmd_profile)
    if host is not None:  # after the kernel's own commands, as hookspecs.hiveframe_register_commands says
        host.hooks.register_commands(subparsers=sub, common=common)
    return parser


def _engine_options(parser: argparse.ArgumentParser, engines: Mapping[str, SampleEngine], *,
                    fit: bool = False) -> dict[str, list[str]]:
    """Each engine adds its options in a group of its own; returns the option dests of each engine, so a
    command can refuse an engine's option given without that engine."""
    out: dict[str, list[str]] = {}
    for name, engine in engines.items():
        known = set(map(id, parser._actions))
        group = parser.add_argument_group(f"--engine {name} options")
        if fit:
            engine.add_fit_arguments(group)
        else:
            engine.add_arguments(group)
        out[name] = [a.dest for a in parser._actions if id(a) not in known]
    return out


# -- helpers --------------------------------------------------------------------------------------
class _Formatter(logging.Formatter):
    def __init__(self, debug: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s" if debug else "%(message)s")


def _plugin_packages() -> list[str]:
    """Top-level packages of the installed plugins (``hiveframe_ctgan``...): their loggers are shown too.

    Read from the entry points without importing anything.
    """
    from importlib.metadata import entry_points

    names = {ep.value.split(":")[0].split(".")[0] for ep in entry_points(group="hiveframe")}
    return sorted(n for n in names if n and n != "hiveframe")


def _configure_logging(debug: bool, verbose: bool) -> Callable[[], None]:
    """Send hiveframe's and its plugins' log records to stderr; returns a function that undoes it
    (for in-process use). The level is also what Spark's own log follows (``hiveframe_spark``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(debug))
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    loggers = [logging.getLogger(name) for name in ["hiveframe", *_plugin_packages()]]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False

    def restore() -> None:
        for logger, (old_level, old_propagate) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(old_level)
            logger.propagate = old_propagate

    return restore


def _host(args: argparse.Namespace, progress: ProgressPlugin | None = None) -> PluginHost:
    """The command's host: the one :func:`main` built the parser with, else a new one."""
    host = getattr(args, "plugin_host", None) or _new_host(getattr(args, "block_plugin", None) or ())
    if progress is not None:
        host.register(progress, name="cli-progress")
    return host


def _new_host(block: Sequence[str]) -> PluginHost:
    from hiveframe.plugins import PluginHost

    host = PluginHost(block=block)
    unknown = sorted(set(block) - set(host.infos))
    if unknown:
        log.warning("--block-plugin: no plugin named %s is installed (%s)", ", ".join(map(repr, unknown)),
                    did_you_mean(unknown[0], host.infos) or "no plugins")
    return host


def _progress(args: argparse.Namespace) -> ProgressPlugin:
    return ProgressPlugin(enabled=not getattr(args, "quiet", False))


def _check_exists(source: str) -> None:
    if "://" not in source and not Path(source).exists():
        raise SourceError(f"{source!r} does not exist",
                          hint="give a folder of .parquet/.csv/.csv.gz/.jsonl files or a SQLite file")


def _read(host: PluginHost, source: str) -> Database:
    _check_exists(source)
    return host.read(source)


def _load_metadata(path: str, database: Database | None = None) -> Metadata:
    """hiveframe metadata JSON, or SDV metadata JSON (recognised and converted, dtypes from the data)."""
    from hiveframe.metadata import Metadata, model

    file = Path(path)
    if not file.is_file():
        raise SourceError(f"metadata file {path!r} does not exist",
                          hint="write one with `hiveframe detect SOURCE -o metadata.json`")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"metadata file {path!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"metadata file {path!r} does not hold a JSON object")
    looks_sdv = getattr(model, "_sdv_spec_version", lambda d: None)
    if "spec_version" not in data and looks_sdv(data) is not None:
        from hiveframe.metadata import from_sdv

        log.warning("%s is SDV metadata; converting it (save hiveframe's with `hiveframe detect`)", path)
        return from_sdv(data, database=database) if database is not None else from_sdv(data)
    return Metadata.from_dict(data)


def _check_tables(metadata: Metadata, names: Sequence[str], option: str) -> None:
    unknown = [t for t in dict.fromkeys(names) if not metadata.has_table(t)]
    if unknown:
        hint = did_you_mean(unknown[0], metadata.table_names)
        raise ConfigError(f"{option} names unknown table(s) {', '.join(map(repr, unknown))}", hint=hint)


def _out(text: str = "") -> None:
    print(text, flush=True)


def _table_lines(rows: Sequence[Sequence[Any]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [str(v).ljust(w) if i == 0 else str(v).rjust(w)
                 for i, (v, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return lines


def _describe_metadata(metadata: Metadata, database: Database | None = None) -> list[str]:
    lines = [f"{len(metadata.tables)} table(s), {len(metadata.foreign_keys)} foreign key(s)"]
    rows: list[list[Any]] = [["table", "rows", "columns", "primary key"]]
    for t in metadata.tables:
        n = database[t.name].num_rows if database is not None and t.name in database else ""
        rows.append([t.name, n, len(t.columns), ", ".join(t.primary_key) or "-"])
    lines += ["  " + line for line in _table_lines(rows)]
    for fk in metadata.foreign_keys:
        lines.append(f"  {fk.child_table}({', '.join(fk.child_columns)}) -> "
                     f"{fk.parent_table}({', '.join(fk.parent_columns)})")
    return lines


def _describe_keys(metadata: Metadata) -> list[str]:
    """The keys detect inferred, with confidence and evidence; what it left out; what it sampled."""
    lines: list[str] = []
    rows: list[list[Any]] = [["table", "primary key", "confidence", "evidence"]]
    for t in metadata.tables:
        if t.primary_key and t.detection:
            rows.append([t.name, ", ".join(t.primary_key), f"{t.detection.get('confidence', 0):.2f}",
                         "; ".join(t.detection.get("evidence", ()))])
    if len(rows) > 1:
        lines += ["primary keys (inferred)"] + ["  " + line for line in _left_table(rows)]
    rows = [["foreign key", "references", "confidence", "orphans", "evidence"]]
    for fk in metadata.foreign_keys:
        if fk.detection:
            d = fk.detection
            orphans = f"{d.get('orphans', 0)} ({d.get('orphan_share', 0):.1%})" if d.get("orphans") else "0"
            rows.append([f"{fk.child_table}.{','.join(fk.child_columns)}",
                         f"{fk.parent_table}.{','.join(fk.parent_columns)}", f"{d.get('confidence', 0):.2f}",
                         orphans, "; ".join(d.get("evidence", ()))])
    if len(rows) > 1:
        lines += ["foreign keys (inferred)"] + ["  " + line for line in _left_table(rows)]
    detection = metadata.detection or {}
    rejected = detection.get("rejected") or []
    if rejected:
        rows = [["left out", "confidence", "because"]]
        for r in rejected:
            if r.get("kind") == "primary_key":
                what = f"{r['table']}({','.join(r['columns'])}) as primary key"
            else:
                what = (f"{r['child_table']}.{','.join(r['child_columns'])} -> "
                        f"{r['parent_table']}.{','.join(r['parent_columns'])}")
            rows.append([what, f"{r.get('confidence', 0):.2f}", r.get("rejected_because", "")])
        lines += [f"proposals left out (threshold {detection.get('threshold')})"]
        lines += ["  " + line for line in _left_table(rows)]
    for table, s in (detection.get("sampled") or {}).items():
        lines.append(f"sampled: {table} has {s['rows']:,} rows; values were checked on {s['checked_rows']:,} of them")
    if "seconds" in detection:
        lines.append(f"keys detected in {detection['seconds']:.2f}s; dirty foreign keys need an orphan policy at "
                     "fit (--orphans drop|null|keep, or \"orphans\" on the key in the metadata)"
                     if any((fk.detection or {}).get("orphans") for fk in metadata.foreign_keys)
                     else f"keys detected in {detection['seconds']:.2f}s")
    return lines


def _describe_rules(metadata: Metadata) -> list[str]:
    """The rules detect found, with their support (fit enforces them unless they are deleted)."""
    from hiveframe.metadata.rules import describe

    rows: list[list[Any]] = [["table", "rule", "support", "rows against"]]
    for t in metadata.tables:
        for rule in t.constraints:
            d = rule.get("detection")
            if d:
                rows.append([t.name, describe(rule), f"{d['support']:.2%}", d["rows_against"]])
    if len(rows) == 1:
        return []
    return (["rules found in the data (enforced by fit; delete one from the JSON to drop it)"]
            + ["  " + line for line in _left_table(rows)])


def _left_table(rows: Sequence[Sequence[Any]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _output_format(target: str, fmt: str | None) -> str:
    if fmt is not None:
        return fmt
    return "sqlite" if target.lower().endswith(SQLITE_SUFFIXES) else "parquet"


# -- commands -------------------------------------------------------------------------------------
def cmd_detect(args: argparse.Namespace) -> int:
    from hiveframe.metadata import detect

    host = _host(args)
    database = _read(host, args.source)
    if args.sample_rows < 1000:
        raise ConfigError(f"--sample-rows must be at least 1000, got {args.sample_rows}")
    if args.threshold <= 0:
        raise ConfigError("--threshold must be above 0", hint="0.5 is the default")
    metadata = detect(database, host=host, key_threshold=args.threshold, max_orphan_share=args.max_orphan_share,
                      sample_rows=args.sample_rows, rules=args.rules, min_rule_support=args.min_rule_support)
    summary = _describe_metadata(metadata, database) + _describe_keys(metadata) + _describe_rules(metadata)
    if args.output:
        out = Path(args.output)
        if out.is_dir():
            raise ConfigError(f"-o {str(out)!r} is a folder; detect writes one metadata JSON file",
                              hint=f"give a file name, e.g. -o {str(out / 'metadata.json')!r}")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            metadata.to_json(out)
        except OSError as exc:
            raise describe_os_error("write the metadata to", exc) from None
        summary.append(f"metadata written to {out}")
        _out("\n".join(summary))
    else:
        print("\n".join(summary), file=sys.stderr)
        _out(metadata.to_json())
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from hiveframe.metadata import detect
    from hiveframe.pipeline import Synthesizer

    if args.target and not args.report:
        raise ConfigError("--target only chooses the column of the quality report's utility figures",
                          hint="add --report DIR, or drop --target")
    if args.resume and not args.checkpoint_dir:
        raise ConfigError("--resume needs --checkpoint-dir DIR: the folder the interrupted fit wrote its checkpoints to")
    workdir = _checkpoint_dir(args.checkpoint_dir, args.resume) if args.checkpoint_dir else None
    progress = _progress(args)
    host = _host(args, progress)
    engine = _fit_engine(args, host)  # before any data is read: a missing engine, options it cannot take
    if args.report:  # before any work: a missing report plugin, a folder that is not hiveframe's report
        from hiveframe.pipeline.report import check_report_dir, check_report_plugin

        _check_apart("--report", args.report, {"-o MODEL_DIR": args.output, "SOURCE": args.source})
        check_report_plugin(host)
        check_report_dir(args.report)
    if args.generator:  # fail on a misspelled name or a missing extra before reading any data
        host.component_class("table_generator", args.generator).check_available()
    # bad --dp values (epsilon, delta...) are refused before any data is read
    dp = host.create("privacy_wrapper", "dp", dict(args.dp)) if args.dp else None
    params = dict(args.param)
    table_params: dict[str, dict[str, Any]] = {}
    for table, key, value in args.table_param:
        table_params.setdefault(table, {})[key] = value
    if dp is not None and not args.metadata and getattr(dp, "detect_metadata", False) is not True:
        raise ConfigError("--dp needs declared metadata (--metadata): detecting kinds, keys and formats from the "
                          "private data is not private",
                          hint="write it with `hiveframe detect SOURCE -o metadata.json` and review it, or accept "
                          "detection outside the guarantee with --dp detect_metadata=true")
    database = _read(host, args.source)
    if args.metadata:
        metadata = _load_metadata(args.metadata, database)
    else:
        metadata = detect(database, host=host)
    _check_tables(metadata, list(table_params), "--table-param")
    options: dict[str, Any] = {"generator_params": params, "table_params": table_params, "host": host}
    if args.batches:
        options["generators"] = _batches(host, metadata, args.batches, args.generator, params, table_params)
    if args.orphans or args.drop_orphans:
        if args.orphans and args.drop_orphans and args.orphans != "drop":
            raise ConfigError(f"--drop-orphans contradicts --orphans {args.orphans}", hint="give one of them")
        options["orphans"] = args.orphans or "drop"  # what happens, per foreign key, is logged and reported
    if args.generator:
        options["generator"] = args.generator
    if args.seed is not None:
        options["seed"] = args.seed
    if dp is not None:
        options["dp"] = dp  # the wrapper made (and validated) above, before the data was read
        options["metadata_detected"] = not args.metadata
    if args.pii or args.pii_strategy:
        pii = dict(args.pii)
        pii["strategies"] = {**pii.get("strategies", {}), **dict(args.pii_strategy)}
        options["pii"] = pii
    if args.null_handling:
        options["null_handling"] = _null_handling(args.null_handling)
    if args.holdout:
        options["holdout"] = args.holdout
    if args.force_rules:
        options["force_rules"] = True
    synth = Synthesizer(metadata, **options)
    progress.total = len(metadata.tables)
    start = time.perf_counter()
    if engine is None:
        synth.fit(database, callback=progress.callback, workdir=workdir)
    else:
        from hiveframe.engines import FitRequest

        options = {dest: getattr(args, dest, None) for dest in args.engine_options.get(args.engine, ())}
        engine.fit(FitRequest(synthesizer=synth, data=database, callback=progress.callback, options=options))
    synth.source = str(Path(args.source).resolve())  # `sample` refuses to write over it
    seconds = time.perf_counter() - start
    path = synth.save(args.output)
    _out(f"fitted {len(metadata.tables)} table(s) in {seconds:.1f}s; model saved to {path}")
    if args.holdout:
        _out(f"holdout: {args.holdout:g} of the entities of {', '.join(synth.holdout_split['roots'])} kept "
             f"out of training (hiveframe report --model {path} uses them)")
    if args.report:
        from hiveframe.pipeline.report import verdict_line

        train, holdout = synth.split_holdout(database)
        report = synth._write_report(train, Path(args.report), args.target, holdout=holdout)
        _out(f"quality report written to {report}")
        if synth.report_summary:
            _out(verdict_line(synth.report_summary))
    dp = synth.privacy_report().get("dp")
    if dp:  # the last line: what the privacy guarantee is
        _out(_dp_line(dp, synth.dp_wrapper.rows_left_out() if synth.dp_wrapper is not None else {}))
    return 0


def _fit_engine(args: argparse.Namespace, host: PluginHost) -> SampleEngine | None:
    """``fit --engine NAME``: the engine, checked to exist, to fit, and to take the options given; None: local."""
    _check_engine_options(args)
    if args.engine == LOCAL:
        return None
    engines = host.hooks.engines()
    fitting = [name for name, engine in engines.items() if engine.fits]
    engine = engines.get(args.engine)
    if engine is None or not engine.fits:
        what = "samples only; it cannot fit" if engine is not None else "is not installed"
        raise ConfigError(f"--engine {args.engine!r} {what} (engines that fit here: {', '.join([LOCAL, *fitting])})",
                          hint=did_you_mean(args.engine, [LOCAL, *fitting])
                          or "an engine comes from a plugin, e.g. pip install 'hiveframe[spark]' for --engine spark")
    refused = [flag for flag, given in (("--checkpoint-dir", args.checkpoint_dir), ("--resume", args.resume),
                                        ("--dp", args.dp)) if given]
    if refused:
        raise ConfigError(f"{' and '.join(refused)} only apply to a local fit, not --engine {args.engine}",
                          hint=f"drop --engine {args.engine}, or drop " + " and ".join(refused))
    return engine


def _batches(host: PluginHost, metadata: Metadata, values: Sequence[tuple[str, int]], generator: str | None,
             params: Mapping[str, Any], table_params: dict[str, dict[str, Any]]) -> dict[str, str]:
    """``--batches TABLE=MAX_WIDTH``: the table's generator becomes ``batches`` around the chosen generator.

    ``--param`` and ``--table-param`` go to the per-batch generator, except the batches generator's own
    parameters (``anchors``, ``workers``...), which ``--table-param TABLE.anchors=2`` sets.
    """
    _check_tables(metadata, [t for t, _ in values], "--batches")
    try:
        own = set(host.component_class("table_generator", "batches").parameter_names())
    except ConfigError:
        raise ConfigError("--batches needs the batches plugin (hiveframe_batches), which is not installed or is "
                          "blocked", hint="pip install hiveframe, or drop --block-plugin batches") from None
    generators = {}
    for table, width in values:
        if width < 1:
            raise ConfigError(f"--batches {table}={width}: the maximum batch width must be at least 1")
        given = table_params.get(table, {})
        inner = {**params, **{k: v for k, v in given.items() if k not in own}}
        table_params[table] = {**{k: v for k, v in given.items() if k in own}, "max_width": width,
                               "generator": generator or "gaussian_copula", "generator_params": inner}
        generators[table] = "batches"
    return generators


def _checkpoint_dir(path: str, resume: bool) -> Path:
    """The checkpoint folder: a fresh fit wants it empty (or new), ``--resume`` wants the earlier one.

    Refusing a folder that holds checkpoints unless ``--resume`` is given keeps a fit from silently
    continuing someone else's training.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--checkpoint-dir {path!r} is a file", hint="give a folder")
    used = folder.is_dir() and any(folder.iterdir())
    if resume and not used:
        raise ConfigError(f"--resume: --checkpoint-dir {path!r} holds no checkpoints to continue from",
                          hint="drop --resume to start a fit that writes checkpoints there")
    if used and not resume:
        raise ConfigError(f"--checkpoint-dir {path!r} already holds checkpoints of an earlier fit",
                          hint="add --resume to continue that fit, or choose an empty folder")
    return folder


def _null_handling(values: Sequence[str]) -> str | dict[str, str]:
    """``--null-handling mean`` for every table, ``--null-handling loan=drop`` for one."""
    out: dict[str, str] = {}
    for value in values:
        table, sep, mode = value.rpartition("=")
        out[table if sep else "*"] = mode
    if list(out) == ["*"]:
        return out["*"]
    return out


def cmd_sample(args: argparse.Namespace) -> int:
    from hiveframe.pipeline import Synthesizer

    progress = _progress(args)
    host = _host(args, progress)
    synth = Synthesizer.load(args.model, host=host)
    _check_sample_output(args.output, args.model, synth.source)
    metadata = synth.metadata
    rows = dict(args.rows or [])
    if rows:
        _check_tables(metadata, list(rows), "--rows")
    if args.engine != LOCAL and (args.condition or args.balance or args.qa):
        raise ConfigError("--condition, --balance and --qa sample locally only",
                          hint=f"drop --engine {args.engine}, or sample without them there")
    _check_engine_options(args)
    if args.engine != LOCAL:
        return _sample_with_engine(args, host, rows, synth)
    progress.total = len(metadata.tables)
    start = time.perf_counter()
    conditions = None
    if args.condition:
        from hiveframe.pipeline.conditions import conditions_from_args

        conditions = conditions_from_args(args.condition, metadata)
    if args.real is not None and not args.qa:
        raise ConfigError("--real is only used by --qa", hint="add --qa, or drop --real")
    qa = None if not args.qa else True if args.qa == "all" else [n.strip() for n in args.qa.split(",") if n.strip()]
    database = synth.sample(scale=args.scale if args.scale is not None else 1.0, rows=rows or None,
                            seed=args.seed, conditions=conditions, balance=args.balance, qa=qa, real=args.real)
    seconds = time.perf_counter() - start
    for table, entry in synth.sampling_report.items():
        _out(f"conditions on {table}: {entry['method']}, {entry['drawn']:,} rows drawn for {entry['rows']:,} "
             f"(acceptance {entry['acceptance_rate']:.1%})")
    for entry in synth.qa_report.get("filters", []):
        cascaded = f", and {_counts(entry['cascaded'])} referencing them" if entry["cascaded"] else ""
        _out(f"qa {entry['filter'].removeprefix('qa_')}: removed {_counts(entry['removed']) or 'nothing'}{cascaded} "
             f"[{entry['status']}] {entry['summary']}")
    fmt = _output_format(args.output, args.format)
    from hiveframe.pipeline.catalog import catalog_entry

    catalog = catalog_entry(synth, database, seed=args.seed, scale=None if rows else (args.scale or 1.0),
                            rows=rows or None, model=args.model)
    provenance = {"generator": "hiveframe", "hiveframe_version": __version__, "model": str(args.model),
                  "seed": synth.seed if args.seed is None else args.seed, "catalog": catalog}
    if synth.sampling_report:
        provenance["conditions"] = synth.sampling_report
    if synth.qa_report:
        provenance["qa"] = {"rows_before": synth.qa_report["rows_before"],
                            "rows_after": synth.qa_report["rows_after"],
                            "filters": [{k: e[k] for k in ("filter", "status", "summary", "removed", "cascaded")}
                                        for e in synth.qa_report["filters"]]}
    single = _single_file_format(args.output, args.format, database)
    if single is not None:
        fmt = single
        _write_single_file(host, database, Path(args.output), fmt, metadata, provenance)
    else:
        host.write(database, args.output, format=fmt, metadata=metadata, provenance=provenance,
                   overwrite=args.overwrite)
    total = sum(t.num_rows for t in database.tables.values())
    _out(f"sampled {len(database)} table(s), {total} rows in {seconds:.1f}s; written to {args.output} ({fmt}); "
         f"catalog entry {catalog['dataset_id']}")
    for table, rules in (getattr(synth.engine, "rule_reports", None) or {}).items():
        if rules.get("redrawn"):  # rows drawn again to keep a rule: the rejection rate
            _out(f"rules: {table}: {rules['rejection_rate']:.1%} of the {rules['drawn']} rows drawn were redrawn "
                 f"({'; '.join(f'{n} for {r}' for r, n in rules['redrawn'].items())})")
    return 0


def _counts(per_table: Mapping[str, int]) -> str:
    return ", ".join(f"{n:,} {t}" for t, n in per_table.items())


def _check_sample_output(output: str, model: str, source: str | None) -> None:
    """Synthetic data never goes over the real data the model learnt from, nor into the model."""
    out = Path(output).resolve()
    model_dir = Path(model).resolve()
    if out == model_dir or model_dir in out.parents:
        raise ConfigError(f"-o {output!r} is {'the model folder' if out == model_dir else 'inside the model folder'} "
                          f"{model!r}; writing there would damage the model",
                          hint="write the synthetic data to a folder outside the model")
    if source is not None and out == Path(source):
        raise ConfigError(f"-o {output!r} is the source the model was fitted from ({source}); "
                          "sampling there would replace the real data with synthetic data",
                          hint="write the synthetic data to a new folder or file")


def _check_apart(flag: str, output: str, inputs: Mapping[str, str | None]) -> None:
    """An output folder is never one of the command's inputs nor a folder holding one (replacing it would
    delete them), and never inside a model folder (a model holds only its own files)."""
    out = Path(output).resolve()
    for name, given in inputs.items():
        if given is None:
            continue
        other = Path(given).resolve()
        model = name in ("-o MODEL_DIR", "--model")
        if out == other:
            where = "is"
        elif out in other.parents:
            where = "holds"
        elif model and other in out.parents:
            where = "is inside"
        else:
            continue
        raise ConfigError(f"{flag} {output!r} {where} {name} {given!r}; writing the report there would "
                          f"{'damage the model' if model else 'delete it'}", hint=f"give {flag} a folder of its own")


SINGLE_FILE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}


def _single_file_format(target: str, fmt: str | None, database: Database) -> str | None:
    """The format of a one-table output named as a file (``people_syn.csv``), or None for a folder."""
    suffix = Path(target).suffix.lower()
    if "://" in target or suffix not in SINGLE_FILE_SUFFIXES:
        return None
    if len(database) != 1:
        raise ConfigError(f"{target!r} names one file, but the model has {len(database)} tables",
                          hint="give a folder (one file per table) or a .sqlite file")
    if fmt not in (None, SINGLE_FILE_SUFFIXES[suffix]):
        raise ConfigError(f"--format {fmt} does not match the file name {target!r}")
    return SINGLE_FILE_SUFFIXES[suffix]


def _write_single_file(host: PluginHost, database: Database, target: Path, fmt: str, metadata: Metadata,
                       provenance: Mapping[str, Any]) -> None:
    """One table to one file: written by the folder writer beside the target, then moved into place.

    The file appears whole or not at all, and an existing file is never replaced (hiveframe cannot
    know it wrote it). Provenance goes to ``<file>.provenance.json`` beside it.
    """
    import os
    import shutil
    import tempfile

    if target.exists():
        raise SourceError(f"{str(target)!r} already exists", hint="choose a new file name; hiveframe never "
                          "replaces a file it may not have written")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        host.write(database, staging / "out", format=fmt, metadata=metadata, provenance=provenance)
        (name,) = database.names
        written = staging / "out" / f"{name}{SINGLE_FILE_SUFFIXES_BY_FORMAT[fmt]}"
        os.link(written, target)  # fails if the target appeared meanwhile: never a silent overwrite
        for name, suffix in (("_provenance.json", ".provenance.json"), ("_catalog.json", ".catalog.json")):
            written_file = staging / "out" / name
            sidecar = target.with_name(target.name + suffix)
            if written_file.exists() and not sidecar.exists():
                os.link(written_file, sidecar)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


SINGLE_FILE_SUFFIXES_BY_FORMAT = {v: k for k, v in SINGLE_FILE_SUFFIXES.items()}


def _check_engine_options(args: argparse.Namespace) -> None:
    """An engine's own options go with that engine only (``--partitions`` without ``--engine spark``)."""
    for name, dests in getattr(args, "engine_options", {}).items():
        given = [f"--{dest.replace('_', '-')}" for dest in dests if getattr(args, dest, None) is not None]
        if given and args.engine != name:
            raise ConfigError(f"{' and '.join(given)} only apply with --engine {name}",
                              hint=f"add --engine {name}, or drop " + " and ".join(given))


def _sample_with_engine(args: argparse.Namespace, host: PluginHost, rows: dict[str, int],
                        synth: Synthesizer) -> int:
    """``sample --engine NAME``: the plugin's engine samples and writes; the kernel reports what it wrote.

    The kernel makes the catalog entry (rows still unknown); the engine completes and stores it.
    """
    from hiveframe.engines import SampleRequest
    from hiveframe.pipeline.catalog import catalog_entry

    engines = host.hooks.engines()
    engine = engines.get(args.engine)
    if engine is None:
        raise ConfigError(f"--engine {args.engine!r} is not installed (engines here: "
                          f"{', '.join([LOCAL, *engines])})",
                          hint=did_you_mean(args.engine, [LOCAL, *engines])
                          or "an engine comes from a plugin, e.g. pip install 'hiveframe[spark]' for --engine spark")
    options = {dest: getattr(args, dest, None) for dest in args.engine_options.get(args.engine, ())}
    fmt = _output_format(args.output, args.format)
    start = time.perf_counter()
    catalog = catalog_entry(synth, None, seed=args.seed, scale=None if rows else (args.scale or 1.0),
                            rows=rows or None, model=args.model)
    written = engine.sample(SampleRequest(model=args.model, output=args.output, format=fmt,
                                          scale=args.scale if args.scale is not None else 1.0, rows=rows or None,
                                          seed=args.seed, overwrite=args.overwrite, options=options,
                                          catalog=catalog))
    _out(f"sampled {len(written)} table(s), {sum(written.values())} rows on {engine.title or engine.name} in "
         f"{time.perf_counter() - start:.1f}s; written to {args.output} ({fmt})")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    host = _host(args)
    infos = list(host.infos.values())
    if args.json:
        out = []
        for info in infos:
            out.append({
                "name": info.name, "version": info.version, "source": info.source, "status": info.status,
                "message": info.message, "distribution": info.distribution,
                "components": {kind: [{"name": n, "available": host.registry[kind][n].available}
                                      for n in names]
                               for kind, names in info.components.items()},
            })
        _out(json.dumps(out, indent=2))
        return 0
    for info in infos:
        status = info.status
        if info.message and status != "ok":
            status = f"{status}: {info.message}"
        _out(f"{info.name} {info.version or '?'} ({info.source}): {status}")
        for kind, names in info.components.items():
            labels = []
            for name in names:
                reg = host.registry.get(kind, {}).get(name)
                labels.append(name if reg is None or reg.available else f"{name} (unavailable)")
            _out(f"    {kind.replace('_', ' ')}: {', '.join(labels)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import sqlite3

    from hiveframe.pipeline.demo import demo_source, format_summary, run_demo

    progress = _progress(args)
    host = _host(args, progress)
    con = sqlite3.connect(f"file:{demo_source()}?mode=ro", uri=True)
    try:  # for "[3/11]" counters before the demo reads the data
        progress.total = con.execute("SELECT count(*) FROM sqlite_master WHERE type='table' "
                                     "AND name NOT LIKE 'sqlite_%'").fetchone()[0]
    finally:
        con.close()
    summary = run_demo(args.output, seed=args.seed, host=host, callback=progress.callback,
                       overwrite=args.overwrite)
    _out(format_summary(summary))
    violations = summary["foreign_key_violations"]
    if violations:
        raise HiveframeError(f"the synthetic database has {violations} foreign key violation(s)",
                             hint=f"inspect with: sqlite3 {summary['output']} 'PRAGMA foreign_key_check'")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    """``hiveframe profile SOURCE [-o profile.json]``: the profile of a real database (docs/profile.md)."""
    from hiveframe._atomic import staged_file
    from hiveframe.pipeline.profile import profile, to_json

    if args.output is not None and Path(args.output).exists():
        raise SourceError(f"{args.output!r} already exists", hint="choose a new file name; hiveframe never "
                          "replaces a file it may not have written")
    host = _host(args)
    database = _read(host, args.source)
    metadata = _load_metadata(args.metadata, database) if args.metadata else None
    document = profile(database, metadata, source=args.source, host=host)
    text = to_json(document)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    with staged_file(Path(args.output)) as staging:
        staging.write_text(text, encoding="utf-8")
    tables = document["tables"]
    _out(f"profiled {len(tables)} table(s), {sum(t['rows'] for t in tables.values())} rows; "
         f"written to {args.output} ({document['digest']})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from hiveframe.metadata import detect
    from hiveframe.pipeline.report import check_report_dir, check_report_plugin, verdict_line, write_report

    _check_apart("-o", args.output, {"REAL": args.real, "SYNTH": args.synthetic, "--holdout": args.holdout,
                                     "--model": args.model})
    host = _host(args)
    check_report_plugin(host)  # before reading anything: the plugin, then the folder
    check_report_dir(args.output, overwrite=args.overwrite)
    real = _read(host, args.real)
    synthetic = _read(host, args.synthetic)
    holdout = _read(host, args.holdout) if args.holdout else None
    if args.metadata:
        metadata = _load_metadata(args.metadata, real)
    else:
        metadata = detect(real, host=host)
    out = Path(args.output)
    privacy = model_seed = None
    if args.model:
        from hiveframe.pipeline import Synthesizer

        model = Synthesizer.load(args.model, host=host)
        privacy = model.privacy_report() or None
        model_seed = model.seed
        if model.holdout_split and holdout is None:  # the entities the model kept out at fit time
            real, holdout = model.split_holdout(real)
            _progress(args)._emit(f"using the model's holdout ({model.holdout_split['fraction']:g} of "
                                  f"{', '.join(model.holdout_split['roots'])})")
    _progress(args)._emit(f"validating {args.synthetic} against {args.real} ({len(metadata.tables)} table(s))...")
    summary = write_report(host, real, synthetic, metadata, out, target=args.target, privacy=privacy,
                           holdout=holdout, model_seed=model_seed, overwrite=args.overwrite)
    _out(f"report written to {summary['path']}")
    _out(verdict_line(summary))
    return 0


# -- entry point ----------------------------------------------------------------------------------
def _broken_pipe() -> int:
    """`hiveframe plugins | head`: the reader left; stop quietly."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (captured)
        pass
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 error, 2 usage or configuration error)."""
    early = argparse.ArgumentParser(add_help=False)  # what the host needs before the full parser exists
    early.add_argument("--block-plugin", action="append", default=[])
    early.add_argument("--debug", action="store_true")
    known, _ = early.parse_known_args(argv)
    restore_logging = _configure_logging(known.debug, False)
    try:  # plugin warnings (unavailable, commands not added) are shown like every other log line
        host = _new_host(known.block_plugin)
        parser = build_parser(host)
    except HiveframeError as exc:
        print(f"hiveframe: error: {exc}", file=sys.stderr)
        return 1
    finally:
        restore_logging()
    args = parser.parse_args(argv)
    args.plugin_host = host
    debug = bool(getattr(args, "debug", False))
    restore_logging = _configure_logging(debug, bool(getattr(args, "verbose", False)))
    try:
        return int(args.func(args) or 0)
    except HiveframeError as exc:
        if debug:
            traceback.print_exc()
        print(f"hiveframe {args.command}: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1
    except KeyboardInterrupt:
        print("hiveframe: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a full disk, a read-only folder, a path through a file: the user's to fix
        if debug:
            traceback.print_exc()
        if isinstance(exc, BrokenPipeError):
            return _broken_pipe()
        print(f"hiveframe {args.command}: error: {describe_os_error('read or write', exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug still gets one readable line
        if debug:
            traceback.print_exc()
        print(f"hiveframe {args.command}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if not debug:
            print("  (run again with --debug for the traceback, and please report it)", file=sys.stderr)
        return 1
    finally:
        restore_logging()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
