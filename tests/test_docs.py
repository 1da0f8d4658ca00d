"""The docs stay honest: hook signatures match the specs, examples run, the CLI page matches the parser."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

from hiveframe import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = ("index.md", "api.md", "hooks.md", "plugins.md", "cli.md", "metadata.md", "design.md", "autoregressive.md")


def hook_specs() -> dict[str, object]:
    return {name: getattr(hookspecs, name) for name in dir(hookspecs)
            if name.startswith("hiveframe_") and hasattr(getattr(hookspecs, name), "hiveframe_spec")}


def signature_text(name: str, fn) -> str:
    """``def name(a: T, b: U) -> R`` from the spec's (string) annotations."""
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"def {name}({params}) -> {sig.return_annotation}"


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def code_blocks(page: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (DOCS / page).read_text(), re.S)


def hook_sections() -> dict[str, str]:
    text = (DOCS / "hooks.md").read_text()
    parts = re.split(r"^### `([a-z_]+)`\s*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_page_exists():
    for page in PAGES:
        assert (DOCS / page).is_file(), page


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_hook_is_documented_with_its_exact_signature(name):
    sections = hook_sections()
    assert name in sections, f"docs/hooks.md has no section '### `{name}`'"
    blocks = re.findall(r"```python\n(.*?)```", sections[name], re.S)
    assert blocks, f"the section of {name} has no python block with its signature"
    expected = signature_text(name, hook_specs()[name])
    assert compact(expected) in [compact(b) for b in blocks], (
        f"docs/hooks.md shows a different signature for {name}; the spec is:\n{expected}")


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_firstresult_hooks_say_so(name):
    firstresult = hook_specs()[name].hiveframe_spec["firstresult"]
    section = hook_sections()[name]
    assert ("*firstresult" in section) == firstresult, name


def test_docs_name_no_hook_that_does_not_exist():
    documented = set(hook_sections())
    assert documented == set(hook_specs()), f"extra: {documented - set(hook_specs())}"
    mentioned = set(re.findall(r"\bhiveframe_[a-z_]+(?=\()", (DOCS / "hooks.md").read_text()))
    assert mentioned <= set(hook_specs())


@pytest.mark.parametrize("name", sorted(n for n in hook_specs() if not n.startswith("hiveframe_register_")))
def test_the_typed_facade_covers_every_call_hook(name):
    from hiveframe.plugins import Hooks

    method = getattr(Hooks, name.removeprefix("hiveframe_"), None)
    assert method is not None, f"Hooks has no method for {name}"
    facade = [p.name for p in inspect.signature(method).parameters.values() if p.name != "self"]
    spec = list(inspect.signature(hook_specs()[name]).parameters)
    assert facade == spec
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY
               for p in inspect.signature(method).parameters.values() if p.name != "self")


def test_metadata_json_example_is_valid():
    from hiveframe.metadata import Metadata, validate_metadata

    (example,) = code_blocks("metadata.md", "json")
    metadata = Metadata.from_dict(json.loads(example))
    assert metadata.table("Customer").column("Email").pii_kind.value == "email"
    validate_metadata(metadata)


def test_links_between_pages_resolve():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#]+\.md)\)", (DOCS / page).read_text()):
            assert (DOCS / target).is_file(), f"{page} links to missing {target}"


def test_cli_page_matches_the_parser():
    from hiveframe.cli import build_parser

    text = (DOCS / "cli.md").read_text()
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for command, subparser in sub.choices.items():
        assert f"## `hiveframe {command}`" in text, f"cli.md has no section for {command}"
        for action in subparser._actions:
            for option in action.option_strings:
                if option in ("-h", "--help"):
                    continue
                assert option in text, f"cli.md does not mention {command} {option}"


def test_hook_reference_in_plugins_page_uses_real_hook_names():
    text = (DOCS / "plugins.md").read_text() + (DOCS / "api.md").read_text()
    for name in set(re.findall(r"\bhiveframe_(?:register|resolve|validate|detect|fit|sample)_[a-z_]+", text)):
        assert name in hook_specs(), name


# -- every code block of README.md and docs/ runs -------------------------------------------------
ROOT = DOCS.parent
DOC_FILES = ("README.md", *(f"docs/{p}" for p in sorted(q.name for q in DOCS.glob("*.md"))))
#: how each fenced language is checked: run (python, bash), parsed (json, toml), or read as output
RUN, PARSE, OUTPUT, SIGNATURE = "run", "parse", "output", "signature"


def doc_blocks() -> list[tuple[str, int, str, str]]:
    """``(file, index, language, code)`` of every fenced block, in page order."""
    out = []
    for name in DOC_FILES:
        text = (ROOT / name).read_text()
        for i, (lang, code) in enumerate(re.findall(r"^```([a-z]*)\n(.*?)^```", text, re.S | re.M)):
            out.append((name, i + 1, lang, code))
    return out


def how_checked(name: str, lang: str, code: str) -> str:
    if lang == "python" and name == "docs/hooks.md" and code.lstrip().startswith("def hiveframe_"):
        return SIGNATURE  # a hook's signature: compared with the spec above
    if lang in ("python", "bash"):
        return RUN
    if lang in ("json", "toml"):
        return PARSE
    assert lang == "text", f"{name}: a code block without a known language ({lang!r}) cannot be checked"
    return OUTPUT


def _marks(code: str) -> list:
    marks = []
    if "--engine spark" in code:
        marks.append(pytest.mark.spark)
    if "ctgan" in code:  # neural fits: minutes
        marks.append(pytest.mark.slow)
    if any(n in code for n in ('"batches"', "--batches")) and not _entry_point("hiveframe_batches.plugin"):
        marks.append(pytest.mark.skip(reason="finds the batches plugin by name: needs its entry point, which an "
                                      "install older than the plugin lacks (reinstall hiveframe)"))
    return marks


def _entry_point(module: str) -> bool:
    import importlib.metadata

    return any(ep.value == module for ep in importlib.metadata.entry_points(group="hiveframe"))


BLOCKS = doc_blocks()


def test_the_docs_have_the_blocks_this_test_counts():
    counts = {kind: sum(how_checked(n, lang, c) == kind for n, _, lang, c in BLOCKS)
              for kind in (RUN, PARSE, OUTPUT, SIGNATURE)}
    assert counts[RUN] >= 20 and counts[SIGNATURE] == len(hook_specs()), counts


@pytest.fixture(scope="module")
def sandboxes(tmp_path_factory, shared_data):
    """One working folder (and python namespace) per page, as a reader would have it: ``../shared/data`` beside it, the
    bundled Chinook as ``chinook.sqlite`` and as a folder ``data/``; blocks of a page run in order."""
    made: dict[str, Path] = {}

    def get(name: str) -> tuple[Path, dict]:
        if name not in made:
            import shutil

            import hiveframe

            base = tmp_path_factory.mktemp(name.replace("/", "_"))
            (base / "shared").symlink_to(shared_data.parent.resolve(), target_is_directory=True)
            work = base / "work"
            work.mkdir()
            chinook = ROOT / "hiveframe" / "demo_data" / "chinook.sqlite"
            shutil.copy(chinook, work / "chinook.sqlite")
            hiveframe.write(hiveframe.read(chinook), work / "data", format="parquet")
            made[name] = (work, {"__name__": f"docs_{Path(name).stem}"})
        return made[name]

    return get


def _commands(code: str) -> list[str]:
    """Shell lines of a bash block: continuations joined, comments dropped, ``&&`` chains split."""
    text = re.sub(r"\\\n\s*", " ", code)
    out = []
    for line in text.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            out += [part.strip() for part in line.split("&&")]
    return out


def _run_bash(code: str, work: Path, name: str) -> None:
    import shlex

    from hiveframe.cli import main

    for command in _commands(code):
        argv = shlex.split(command)
        if argv[:4] == ["python", "-m", "pip", "install"] or argv[:3] == ["python", "-m", "pytest"]:
            continue  # installing and running the suite are what runs this test
        assert argv[0] == "hiveframe", f"{name}: a bash line that is not a hiveframe command: {command}"
        if any(a.startswith("model") for a in argv) and argv[1] in ("sample", "report") \
                and not (work / "model" / "manifest.json").exists():
            # an earlier block of the page fits model/ with a slow generator: stand in a quick real model
            assert main(["fit", "data", "-o", "model", "-q"]) == 0
        code_ = main(argv[1:] + ["-q"])
        assert code_ == 0, f"{name}: `{command}` exited with {code_}"


@pytest.mark.parametrize(
    ("name", "index", "lang", "code"),
    [pytest.param(*b, id=f"{b[0]}#{b[1]}-{b[2]}", marks=_marks(b[3])) for b in BLOCKS
     if how_checked(b[0], b[2], b[3]) in (RUN, PARSE)],
)
def test_doc_block_runs(name, index, lang, code, sandboxes, monkeypatch):
    work, namespace = sandboxes(name)  # a page's python blocks build on each other
    monkeypatch.chdir(work)
    if lang == "json":
        json.loads(code)
    elif lang == "toml":
        import tomllib

        tomllib.loads(code)
    elif lang == "python":
        exec(compile(code, f"{name} (block {index})", "exec"), namespace)  # noqa: S102
    else:
        _run_bash(code, work, f"{name} block {index}")


def test_the_cli_error_example_prints_what_the_page_shows(tmp_path, monkeypatch, capsys):
    """cli.md's `$ hiveframe fit ... gausian_copula` example: its exit status and message are real."""
    from hiveframe.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    example = next(c for n, _, lang, c in BLOCKS if n == "docs/cli.md" and "gausian_copula" in c)
    command = example.splitlines()[0].removeprefix("$ hiveframe ").split()
    assert main(command) == 2
    err = capsys.readouterr().err
    for line in example.splitlines()[1:3]:
        assert line.strip() in err
