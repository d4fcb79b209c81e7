"""Model registry and feature extraction."""

from inceptionism.models.network import FeatureExtractor, Network
from inceptionism.models.registry import DEFAULT_MODEL, RANDOM, get_model, get_model_spec, list_models
from inceptionism.models.spec import ModelSpec

__all__ = [
    "DEFAULT_MODEL", "RANDOM", "FeatureExtractor", "ModelSpec", "Network",
    "get_model", "get_model_spec", "list_models",
]

from inceptionism._callable import callable_package  # noqa: E402

# ``inceptionism.models()`` is :func:`inceptionism.api.models`, the registered models' names
callable_package(__name__, "models")
