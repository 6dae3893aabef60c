"""OutputSink: redaction across writes, flush/restart for the repair re-ask, lazy files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobdeck.agents.output_sink import OutputSink
from jobdeck.state.redact import Redactor

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


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"x", b"ab ", SECRET.encode(), b"sk-", b"secret", b"\n", "é".encode()]), max_size=12),
       st.lists(st.integers(min_value=0, max_value=40), max_size=8))
def test_any_chunking_writes_what_redacting_the_whole_would(tmp_path_factory: pytest.TempPathFactory,
                                                             parts: list[bytes], cuts: list[int]) -> None:
    redactor = Redactor({"API_KEY": SECRET, "OTHER_TOKEN": "sk-secret"})
    whole = b"".join(parts)
    bounds = sorted({min(cut, len(whole)) for cut in cuts} | {0, len(whole)})
    path = tmp_path_factory.mktemp("chunks") / "out"
    sink = OutputSink(path, redactor)
    for start, end in zip(bounds, bounds[1:]):
        sink.write(whole[start:end])
    sink.close()
    assert path.read_bytes() == redactor.data(whole)
