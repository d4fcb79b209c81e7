"""What every trainer shares: image folders read by workers, checkpoints and resume, the loop.

``train-style`` and ``train-dream`` are built on it: :mod:`.data` reads images with
worker processes and skips unreadable ones (counted), :mod:`.state` writes and
reads the optimiser's state beside a model file for ``--resume``, and
:mod:`.loop` runs the steps with checkpoints, a callback for progress and a
graceful stop on Ctrl-C or SIGTERM.
"""

from inceptionism.training import distributed
from inceptionism.training.data import IMAGE_SUFFIXES, ImageFiles, find_images, seed_everything
from inceptionism.training.loop import TrainingInterrupted, TrainStep, fit, warmup_cosine
from inceptionism.training.state import load_state, save_state, state_path

__all__ = [
    "IMAGE_SUFFIXES", "ImageFiles", "TrainStep", "TrainingInterrupted", "distributed", "find_images", "fit", "load_state",
    "save_state", "seed_everything", "state_path", "warmup_cosine",
]
