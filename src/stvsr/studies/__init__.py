"""Studies built on training and evaluation: the spatial-temporal trade-off, the beta sweep of the joint loss, and
the recognition axis (two-stream classifiers). They sit above `train/` and `evaluate/`, never below them."""
