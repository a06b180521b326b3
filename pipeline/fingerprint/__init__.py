"""Fingerprint: what clustering compares. MinHash signatures over shingles, salient-term vectors,
and how much a shared term says (evidence).
"""
