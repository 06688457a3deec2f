"""Duplicate detection: shingles and MinHash signatures, passages, LSH candidates,
verified clusters and the keep policy, optionally against a persistent index."""
