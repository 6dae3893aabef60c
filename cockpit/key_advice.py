"""The CLI's advice said as the cockpit's keys: "(`jobdeck resume pub`)" reads "(key p)" in the cockpit.

`why`, the refusals and the notes of an action come from state/ and decide/
as finished text, with the command that lifts each thing in backticks, as the
CLI prints them. Inside the cockpit the operator acts with keys, so each
command the cockpit has a key for is said as that key, as the operator's
keys.toml maps it; any other (`jobdeck run`, options) keeps its CLI wording.
No Textual here: the caller gives the keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

JOB_ACTIONS = {"approve": "approve", "reject": "reject", "retry": "retry", "cancel": "cancel", "pause": "pause",
               "resume": "pause", "trigger": "trigger", "pin": "pin", "hold": "hold", "release": "release",
               "why": "why", "edit": "edit", "add": "new_job"}
"""The CLI's verbs and the binding id (keys_config.KEYS) of the key that does the same to the selected job."""
DECK_ACTIONS = {"hold": "hold_deck", "release": "hold_deck", "edit": "edit", "add": "new_job"}
"""The verbs that, given no job id, act on the whole deck (`jobdeck release`: the deck's hold), and their keys."""
PLACEHOLDER = "ID"
"""How a hint says "any job id" (`jobdeck release ID`)."""

_COMMAND = re.compile(r"`jobdeck (?P<verb>[a-z]+)(?P<args>(?: [^`]*)?)`")


def in_keys(text: str, keys: Mapping[str, str], subject: str | None = None) -> str:
    """``text`` with every `jobdeck VERB [ID]` the cockpit has a key for said as "key K".

    ``keys`` maps binding ids to the key as shown ("a", "^a"); ``subject`` is the job the text is about (the
    selected one, which the keys act on). A command for another job names it: "key a on crm-writeback".
    """
    def said(match: re.Match[str]) -> str:
        verb, args = match["verb"], match["args"].split()
        if len(args) > 1 or (args and args[0].startswith("-")):  # options, several ids: the CLI's alone
            return match[0]
        job = args[0] if args else None
        action = JOB_ACTIONS.get(verb) if job is not None else DECK_ACTIONS.get(verb, JOB_ACTIONS.get(verb))
        key = keys.get(action) if action is not None else None
        if key is None:
            return match[0]
        if job is not None and job != PLACEHOLDER and subject is not None and job != subject:
            return f"key {key} on {job}"
        return f"key {key}"

    return _COMMAND.sub(said, text)


def without_options(hint: str) -> str:
    """A hint's alternatives but those that pass a CLI option ("pick another id, or pass --replace": "pick another
    id"), which the cockpit has no field for; "" when each of them does."""
    clauses = re.split(r",? or ", hint)
    kept = [clause for clause in clauses if not re.search(r"(?:^|\s)--[a-z]", clause)]
    return hint if len(kept) == len(clauses) else " or ".join(kept)
