"""What a run writes: staged and atomically published clean texts (files or shards),
the manifest, duplicates.json, summary.json and the HTML report."""
