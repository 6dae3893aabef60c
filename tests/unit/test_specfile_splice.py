"""`jobdeck add` writes into a hand-written jobs.json without reformatting it."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from jobdeck.state.specfile import splice_jobs

HAND = """{
    "//": "my deck: fetch, then sum",
    "limits": {"parallel": 2},
    "jobs": [
        {"id": "fetch", "command": ["echo", "hi"]},
        {
            "id": "sum",
            "command": ["true"],
            "depends_on": ["fetch"]
        }
    ],
    "agents": {}
}
"""


def test_an_added_job_is_the_only_change_and_is_laid_out_like_its_neighbours() -> None:
    spliced = splice_jobs(HAND, [{"id": "extra", "command": ["echo", "more"], "labels": ["a"]}])
    assert spliced is not None
    before, after = HAND.split('\n        }\n    ],', 1)
    assert spliced == before + """
        },
        {
            "id": "extra",
            "command": ["echo", "more"],
            "labels": ["a"]
        }
    ],""" + after


def test_a_replaced_job_keeps_its_place_and_the_rest_stays_byte_for_byte() -> None:
    spliced = splice_jobs(HAND, [{"id": "fetch", "command": ["echo", "bye"]}])
    assert spliced is not None
    assert spliced.replace('{\n            "id": "fetch",\n            "command": ["echo", "bye"]\n        }',
                           '{"id": "fetch", "command": ["echo", "hi"]}') == HAND


def test_a_list_on_one_line_stays_on_one_line() -> None:
    text = '{"jobs": [{"id": "x", "command": ["true"]}]}\n'
    assert splice_jobs(text, [{"id": "y", "command": ["true"]}]) == \
        '{"jobs": [{"id": "x", "command": ["true"]}, {"id": "y", "command": ["true"]}]}\n'


def test_no_jobs_list_is_left_to_the_caller() -> None:
    assert splice_jobs('{"agents": {}}', [{"id": "x"}]) is None
    assert splice_jobs('{"jobs": {}}', [{"id": "x"}]) is None


LAYOUTS: list[dict[str, Any]] = [{}, {"indent": 2}, {"indent": 4}, {"indent": "\t"}, {"indent": 0},
                                 {"separators": (",", ":")}, {"indent": 3, "separators": (" , ", " : ")}]


@pytest.mark.parametrize("seed", range(40))
def test_whatever_the_layout_the_result_is_the_document_with_the_jobs_added(seed: int) -> None:
    rng = random.Random(seed)
    jobs = [{"id": f"j{n}", "command": ["echo", f"{n}" * rng.randint(1, 40)], "labels": ["é", "\"q\""][:rng.randint(0, 2)]}
            for n in range(rng.randint(0, 6))]
    document: dict[str, Any] = {"//": "x", "jobs": jobs, "agents": {"a": {"type": "llm", "model": "m"}}}
    if rng.random() < 0.5:
        document = {"jobs": jobs, **{k: v for k, v in document.items() if k != "jobs"}}
    text = json.dumps(document, ensure_ascii=rng.random() < 0.5, **rng.choice(LAYOUTS)) + "\n" * rng.randint(0, 2)
    new = [{"id": f"j{rng.randint(0, 9)}", "command": ["true"], "priority": rng.randint(0, 3)}
           for _ in range(rng.randint(1, 4))]
    new = list({job["id"]: job for job in new}.values())
    spliced = splice_jobs(text, new)
    assert spliced is not None
    expected = {job["id"]: job for job in jobs}
    expected.update({job["id"]: job for job in new})
    assert json.loads(spliced) == {**document, "jobs": list(expected.values())}
