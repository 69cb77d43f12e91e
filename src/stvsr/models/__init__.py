"""The model zoo: every method stvsr runs, behind one registry (`create_model`, `list_models`)."""

from . import classical, dual_stream, espcn, flowsr, imdn, propagation, srgan, srunet, tosr, tpnet, vdsr, vfinet, vsr2d3d  # noqa: F401
from .base import Cascade, CentreFrameVSR, PairwiseInterpolator, SpatialModel, VideoModel, window_overlap_of
from .registry import ModelEntry, create_model, list_models, model_entry, register_model
from .build import build_method
from .checkpoint import load_model, read_metadata, save_weights

__all__ = ["load_model", "read_metadata", "save_weights", "Cascade", "CentreFrameVSR", "ModelEntry", "PairwiseInterpolator", "SpatialModel", "VideoModel", "build_method", "window_overlap_of",
           "create_model", "list_models", "model_entry", "register_model"]
