"""Extract: a raw document becomes a clean article with its metadata, or a rejection with a reason.
HTML through trafilatura's public API, plain-text page dumps through the cleaner, paywalls stripped.
"""
