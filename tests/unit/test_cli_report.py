"""The runner's printed output: a stream that fails is given up, never fatal to the runner."""

from __future__ import annotations

import io
import json
import os

import pytest

from jobdeck.cli.report import Reporter

RECORD = {"type": "succeeded", "job": "fetch", "seq": 3, "ts": 0.0, "review": False}


def test_json_lines_are_one_record_each() -> None:
    stream = io.StringIO()
    Reporter(json_lines=True, stream=stream)(RECORD)
    assert [json.loads(line) for line in stream.getvalue().splitlines()] == [RECORD]


def test_a_full_stream_is_given_up_after_one_notice(capsys: pytest.CaptureFixture[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE, as to a closed `| head`
    stream = open(write_end, "w")
    reporter = Reporter(json_lines=True, stream=stream)
    reporter(RECORD)
    reporter(RECORD)
    assert reporter.broken
    assert capsys.readouterr().err.count("cannot write the runner's output") == 1
    try:
        stream.close()
    except OSError:
        pass
