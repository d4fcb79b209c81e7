"""The style network that ships inside the package: instant stylisation with nothing to train.

It was trained by ``train-style`` on public-domain paintings (the command and
recipe are in the README); ``stylize`` uses it when no ``--model`` is given, and
``inceptionism styles`` lists its styles.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from inceptionism.errors import ModelError, param

FILE = "styles.safetensors"


def shipped_model_path() -> Path:
    """The shipped model's file; :class:`ModelError` if this installation lacks it."""
    path = Path(str(resources.files("inceptionism.style").joinpath("weights", FILE)))
    if not path.is_file():
        raise ModelError(f"no style model ships with this installation ({path} is missing): "
                         f"pass {param('model', 'MODEL.safetensors')} from `inceptionism train-style`")
    return path
