"""DeepDream: gradient ascent on an image so that a layer sees more of what it sees."""

from inceptionism.dream.loop import (
    DreamConfig,
    DreamResult,
    DreamStep,
    dream,
    noise_image,
    octave_sizes,
    preserve_colors,
)

__all__ = ["DreamConfig", "DreamResult", "DreamStep", "dream", "noise_image", "octave_sizes", "preserve_colors"]

from inceptionism._callable import callable_package  # noqa: E402

# ``inceptionism.dream(...)`` is :func:`inceptionism.api.dream` (see :mod:`inceptionism._callable`)
callable_package(__name__, "dream")
