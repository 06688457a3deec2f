"""cleaner: turn a raw web-scrape directory into a clean, deduplicated text corpus.

The package is laid out as its pipeline, driven from :mod:`cleaner.cli` by
:mod:`cleaner.pipeline`, whose parallel work (:mod:`cleaner.steps`) an engine schedules:

``sources`` (storage, files -> documents) -> ``clean`` (normalise: encoding, whitespace,
HTML main text; rules: declarative chrome rules; furniture: page furniture and lines
repeated across one source) -> ``dedup`` (passages, MinHash, LSH candidates, clusters,
optionally against a persistent index) -> ``outputs`` (clean texts, manifest,
duplicates.json, summary, report).
"""

__version__ = "0.1.0"
