"""Building blocks shared by several model families."""

from .blocks import (CCALayer, IMDModule, PixelShuffleUpsampler, ResBlock, ResizeConvUpsampler, UNet, conv,
                     feature_shuffle, feature_unshuffle, modified_sigmoid)

__all__ = ["CCALayer", "IMDModule", "PixelShuffleUpsampler", "ResBlock", "ResizeConvUpsampler", "UNet", "conv",
           "feature_shuffle", "feature_unshuffle", "modified_sigmoid"]
