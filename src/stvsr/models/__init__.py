"""The model zoo: every method stvsr runs, behind one registry (`create_model`, `list_models`)."""

from . import classical  # noqa: F401  (registers the classical methods)
from .base import Cascade, PairwiseInterpolator, SpatialModel, VideoModel
from .registry import ModelEntry, create_model, list_models, model_entry, register_model
from .build import build_method

__all__ = ["Cascade", "ModelEntry", "PairwiseInterpolator", "SpatialModel", "VideoModel", "build_method",
           "create_model", "list_models", "model_entry", "register_model"]
