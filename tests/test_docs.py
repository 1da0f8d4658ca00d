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


@pytest.mark.parametrize("page", ["api.md", "plugins.md", "metadata.md", "autoregressive.md"])
def test_python_examples_run(page, tmp_path, monkeypatch):
    blocks = code_blocks(page, "python")
    assert blocks, page
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page[:-3]}"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/{page} (python block {i + 1})", "exec"), namespace)  # noqa: S102


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
