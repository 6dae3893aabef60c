"""How one attempt of a job is executed: shell commands, coding-agent CLIs, LLM calls.

Importing this package (or ``agents.registry``) is cheap: litellm is imported
inside the llm agent's first call, never at import time.
"""
