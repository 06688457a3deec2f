"""Cleaning: decode and normalise a document, remove what the rules name, the page
furniture the classifier finds, and the template lines a source repeats."""
