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


def test_output_past_the_limit_is_not_kept_and_marks_the_sink(tmp_path: Path) -> None:
    sink = OutputSink(tmp_path / "out", Redactor({}), limit=10)
    sink.write(b"0123456789")
    assert not sink.over_limit, "exactly the limit is within it"
    sink.write(b"abc")
    sink.write(b"more")
    sink.close()
    assert sink.over_limit and (tmp_path / "out").read_bytes() == b"0123456789" and sink.bytes_written == 10


def test_a_file_a_child_wrote_past_the_limit_is_cut_back_to_it(tmp_path: Path) -> None:
    import os

    sink = OutputSink(tmp_path / "out", Redactor({}), limit=100)
    fd = sink.direct_fd()
    os.write(fd, b"x" * 250)  # as the child would, straight into the file
    sink.sync_activity()
    assert sink.over_limit
    sink.close()
    assert (tmp_path / "out").stat().st_size == 100 and sink.bytes_written == 100


def test_restart_clears_the_limit_mark(tmp_path: Path) -> None:
    sink = OutputSink(tmp_path / "out", Redactor({}), limit=4)
    sink.write(b"too long")
    sink.restart()
    sink.write(b"ok")
    sink.close()
    assert not sink.over_limit and (tmp_path / "out").read_bytes() == b"ok"


def test_the_size_is_looked_at_sooner_the_faster_the_output_nears_its_limit(tmp_path: Path) -> None:
    from jobdeck.agents.output_sink import LOOK_MAX, LOOK_MIN

    now = [100.0]
    sink = OutputSink(tmp_path / "out", Redactor({}), clock=lambda: now[0], limit=1000)
    assert OutputSink(tmp_path / "other", Redactor({})).next_look(7.0) == 7.0, "no limit: no looks"
    assert sink.next_look(None) == LOOK_MAX, "quiet output: the longest wait"
    assert sink.next_look(0.1) == 0.1, "a sooner deadline stays"
    now[0] += 0.1
    sink.write(b"x" * 100)  # 1000 bytes/s: 900 bytes to go is 0.9 s, looked at after half of it
    assert sink.next_look(None) == pytest.approx(0.45)
    now[0] += 0.1
    sink.write(b"x" * 850)  # 8500 bytes/s, 50 bytes to go
    assert sink.next_look(None) == LOOK_MIN
    sink.close()
