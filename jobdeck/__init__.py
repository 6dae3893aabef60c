"""jobdeck: a file-based AI task orchestrator with a terminal cockpit.

The code lives in the repository's top-level folders (state/, agents/, runner/,
cockpit/, cli/); setuptools installs them as ``jobdeck.state``, ``jobdeck.agents``
and so on, so jobdeck never takes a generic import name such as ``agents`` that
another package (the OpenAI Agents SDK, for one) also uses.
"""

__version__ = "0.1.0"
