"""Picture operations that dreams, style transfer and animation share: resizing, masks fitted to a picture,
colour preservation, Gaussian blur.

Pictures are ``B,C,H,W`` float tensors in [0, 1], as everywhere in the library.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from inceptionism.errors import ConfigError


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    shrinking = size[0] < image.shape[-2]
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=shrinking)


_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def preserve_colors(result: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """``result``'s luminance with ``original``'s chrominance (YIQ)."""
    m = _RGB_TO_YIQ.to(result)
    original = resize(original.to(result), tuple(result.shape[-2:]))
    yiq_r = torch.einsum("ij,bjhw->bihw", m, result)
    yiq_o = torch.einsum("ij,bjhw->bihw", m, original)
    mixed = torch.cat([yiq_r[:, :1], yiq_o[:, 1:]], dim=1)
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(m), mixed).clamp(0, 1)


def fit_mask(mask: torch.Tensor, size: tuple[int, int], what: str = "the mask", *, kind: str = "mask") -> torch.Tensor:
    """``mask`` (``1,1,h,w``) resized to ``size``; another aspect ratio than the image's is an error.

    Dream masks and style regions (``kind="region"``) alike.
    """
    h, w = mask.shape[-2:]
    if abs(w / h - size[1] / size[0]) > 0.01 * size[1] / size[0] + 1.0 / min(h, w):
        raise ConfigError(f"{what} is {w}x{h} and the image {size[1]}x{size[0]}: another aspect ratio "
                          f"(resize or crop the {kind} to the image's shape)")
    return resize(mask.float(), size).clamp_(0, 1)


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """``image`` (``B,C,H,W``) blurred by a Gaussian of ``sigma`` pixels, each channel alone, the edges replicated."""
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=image.device)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    k = (k / k.sum()).to(image.dtype)
    channels = image.shape[1]
    pad = (radius, radius, radius, radius)
    blurred = F.conv2d(F.pad(image, pad, mode="replicate"), k.view(1, 1, 1, -1).expand(channels, 1, 1, -1),
                       groups=channels)
    return F.conv2d(blurred, k.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
