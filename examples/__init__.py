"""Example decks shipped with jobdeck as package data (``jobdeck.examples``).

Each folder is a deck's contents: jobs.json and the files its jobs use.
`jobdeck demo` copies ``nightly-enrichment/`` into a fresh deck.
"""
