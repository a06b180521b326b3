"""Sparse term vectors (term -> weight), as fingerprints, stories and the store carry them."""

from __future__ import annotations


def dot(a: dict[str, float], b: dict[str, float]) -> float:
    """Dot product of two sparse vectors, summed in ``a``'s order."""
    # Most pairs share few terms: find them with one set operation, then add up their products (the
    # same sum, to the last bit, as adding a zero for every term of ``a`` missing from ``b``).
    shared = a.keys() & b.keys()
    return sum(w * b[t] for t, w in a.items() if t in shared) if shared else 0.0


def heaviest(weights: dict[str, float], n: int) -> list[tuple[str, float]]:
    """The ``n`` heaviest (term, weight) pairs, heaviest first, ties by term.

    Sorted as (-weight, term) pairs, compared in C, rather than with a key function called per term:
    clustering ranks every article's and story's terms this way, thousands of times a batch.
    """
    return [(term, -negated) for negated, term in sorted([(-w, t) for t, w in weights.items()])[:n]]
