"""Model registry and feature extraction."""

from inceptionism.models.network import FeatureExtractor, Network
from inceptionism.models.registry import (
    DEFAULT_MODEL,
    RANDOM,
    ModelSpec,
    get_model,
    get_model_spec,
    list_models,
)

__all__ = [
    "DEFAULT_MODEL", "RANDOM", "FeatureExtractor", "ModelSpec", "Network",
    "get_model", "get_model_spec", "list_models",
]
