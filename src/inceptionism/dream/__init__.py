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
