"""Training: typed configs, sample pipelines, and one readable loop."""
