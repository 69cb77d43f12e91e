"""Pure tensor functions: resizing, warping, optical flow, windows."""
