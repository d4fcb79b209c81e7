"""Image input and output."""

from inceptionism.io.images import LoadedImage, load_image, read_metadata, save_image

__all__ = ["LoadedImage", "load_image", "read_metadata", "save_image"]
