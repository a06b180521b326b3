"""Cluster: each new article assigned to a story against everything stored, incrementally.
Candidates from the candidate index, the batch's working set, the post-batch repair and split, revisions.
"""
