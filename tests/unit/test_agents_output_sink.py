"""OutputSink: redaction across writes, flush/restart for the repair re-ask, lazy files."""

from __future__ import annotations

from pathlib import Path

from agents.base import OutputSink
from state.redact import Redactor

SECRET = "sk-secret-0123456789"


def test_a_secret_split_across_writes_is_redacted(tmp_path: Path) -> None:
    sink = OutputSink(tmp_path / "out", Redactor({"API_KEY": SECRET}))
    sink.write(b"key=" + SECRET[:7].encode())
    sink.write(SECRET[7:].encode() + b" end")
    sink.close()
    assert (tmp_path / "out").read_text() == "key=[REDACTED:API_KEY] end"


def test_flush_writes_the_held_back_tail(tmp_path: Path) -> None:
    sink = OutputSink(tmp_path / "out", Redactor({"API_KEY": SECRET}))
    sink.write(b"short")
    assert (tmp_path / "out").read_text() == "", "held back: it could be the start of a secret"
    sink.flush()
    assert (tmp_path / "out").read_text() == "short"
    sink.close()


def test_restart_empties_the_file_for_a_replacement(tmp_path: Path) -> None:
    sink = OutputSink(tmp_path / "out", Redactor({}))
    sink.write(b"first answer")
    sink.restart()
    sink.write(b"second")
    sink.close()
    assert (tmp_path / "out").read_text() == "second" and sink.bytes_written == 6


def test_a_lazy_sink_keeps_a_short_held_back_write(tmp_path: Path) -> None:
    lazy = OutputSink(tmp_path / "err", Redactor({"API_KEY": SECRET}), lazy=True)
    lazy.write(b"oops\n")
    lazy.close()
    lazy.close()
    assert (tmp_path / "err").read_text() == "oops\n"


def test_a_lazy_sink_without_data_creates_no_file(tmp_path: Path) -> None:
    lazy = OutputSink(tmp_path / "err", Redactor({"API_KEY": SECRET}), lazy=True)
    lazy.close()
    assert not (tmp_path / "err").exists()
