"""The one progress component: training events drawn as a tqdm bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io
import logging

from hiveframe.pipeline.progress import ProgressPlugin, TrainingProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def events(epochs: int, table: str = "census", model: str = "ctgan"):
    for epoch in range(1, epochs + 1):
        yield {"table": table, "model": model, "epoch": epoch, "epochs": epochs, "losses": {"loss": float(epoch)}}


def test_progress_bar_redraws_one_line_on_a_terminal():
    """(moved from tests/hiveframe_ctgan: the hand-drawn bar there is replaced by this tqdm one)"""
    stream = Terminal()
    bar = TrainingProgress(stream, enabled=True)
    for event in events(4):
        bar(event)
    text = stream.getvalue()
    assert text.count("\r") >= 4 and "\n" not in text[:-1] and text.endswith("\n")  # one line, redrawn, ended
    assert "ctgan census" in text and "4/4" in text and "loss=4.000" in text
    silent = Terminal()
    TrainingProgress(silent, enabled=False)(next(events(4)))
    assert silent.getvalue() == ""


def test_a_new_table_starts_a_new_bar_and_non_epoch_events_draw_nothing():
    stream = Terminal()
    bar = TrainingProgress(stream)
    bar({"table": "Genre", "rows": 25})  # the copula's one event: no epochs, nothing drawn
    assert stream.getvalue() == ""
    for event in [*events(2, "a"), *events(3, "b")]:
        bar(event)
    lines = stream.getvalue().split("\n")
    assert len(lines) == 3 and "ctgan a" in lines[0] and "2/2" in lines[0] and "3/3" in lines[1]


def test_without_a_terminal_lines_are_throttled_or_logged(caplog):
    stream = io.StringIO()
    plain = TrainingProgress(stream, every=3600)
    for event in events(5):
        plain(event)
    lines = stream.getvalue().splitlines()
    assert lines == [lines[0], lines[-1]] and "epoch 1 of 5" in lines[0] and "epoch 5 of 5" in lines[-1]
    logger = logging.getLogger("hiveframe.test.progress")
    with caplog.at_level(logging.INFO, logger=logger.name):
        logged = TrainingProgress(Terminal(), every=3600, logger=logger)  # a logger wins over the terminal
        for event in events(3):
            logged(event)
    assert [r.getMessage() for r in caplog.records] == ["ctgan census: epoch 1/3 loss=1.000",
                                                         "ctgan census: epoch 3/3 loss=3.000"]


def test_the_plugin_ends_the_bar_before_the_fitted_line():
    stream = Terminal()
    plugin = ProgressPlugin(stream)

    class Generator:
        name = "ctgan"

    class Data:
        num_rows, num_columns = 10, 2

    wrapper = plugin.hiveframe_fit_table("census", Generator(), Data())
    next(wrapper)
    for event in events(3, model=""):
        plugin.callback(event)
    try:
        wrapper.send("fitted generator")
    except StopIteration as stop:
        assert stop.value == "fitted generator"
    text = stream.getvalue()
    assert text.index("3/3") < text.index("fitted census")
