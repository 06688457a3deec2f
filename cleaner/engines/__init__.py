"""Engines schedule the pipeline's work: a local process pool, or a Ray cluster. They run
the stage functions they are handed and own no cleaning or dedup logic."""
