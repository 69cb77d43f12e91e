"""Datasets: synthetic clips (here), Vimeo-90K, frame folders and video files."""
