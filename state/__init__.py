"""The deck: spec (jobs.json), state (event log, board), locks and atomic files.

Imports neither textual nor litellm; importing this package is cheap (submodules
load pydantic and croniter only when used).
"""
