"""The runner: claims ready jobs under the deck lock and supervises their attempts.

Never imports textual; litellm is imported only by the llm agent, inside a call.
"""
