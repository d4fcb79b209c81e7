"""Public-domain paintings that ship with inceptionism, for styles and examples (credited in NOTICE).

``painting("starry_night")`` is the path of the file: anything that takes a picture takes it, the command line
too (``inceptionism stylize photo.jpg --style "$(python -c 'from inceptionism.examples import painting;
print(painting("starry_night"))')"``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from inceptionism.errors import ConfigError

#: name -> (file, what it is)
PAINTINGS = {
    "starry_night": ("starry_night.jpg", "Vincent van Gogh, The Starry Night (1889), 800x500"),
    "shipwreck": ("shipwreck.jpg", "J. M. W. Turner, The Shipwreck (1805), 960x662"),
}


def painting(name: str) -> str:
    """The path of the shipped painting ``name`` (see :data:`PAINTINGS`)."""
    if name not in PAINTINGS:
        raise ConfigError(f"no painting named {name!r} ships with inceptionism; there are {', '.join(PAINTINGS)}")
    return str(Path(str(resources.files(__name__).joinpath(PAINTINGS[name][0]))))
