"""cleaner: turn a raw web-scrape directory into a clean, deduplicated text corpus.

The package is a pipeline that reads top-down from :mod:`cleaner.cli`:

``sources`` (files -> documents) -> ``normalise`` (encoding, whitespace, HTML main text)
-> ``rules`` (declarative chrome rules) -> ``chrome`` (statistical chrome: page furniture
and lines repeated across one source) -> ``passages``/``minhash``/``dedup`` (near-duplicate
detection, optionally against a persistent ``index``) -> ``writer``/``report``.
"""

__version__ = "0.1.0"
