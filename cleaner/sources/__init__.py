"""Inputs: where the scrape lives (local folders, object stores) and how each format
(plain text, HTML, JSONL, WARC/WET, Parquet) becomes documents."""
