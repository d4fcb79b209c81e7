"""Styles where you want them, and how strongly: regional masks and strength.

- Regional styles by optimisation follow Gatys et al. 2017 ("Controlling Perceptual
  Factors in Neural Style Transfer"): each style's Gram matrices are matched on the
  features of its own region only, the region's mask downsampled to each layer's
  size (:func:`masked_gram`). Departure: the masks are resized by area averaging
  rather than the paper's per-layer propagation through the network's receptive
  fields, and what no region covers is the content image, blended back through a
  feathered edge (:func:`blend_regions`).
- Feed-forward networks stylise the whole picture once per style and the results
  are blended by the feathered masks (as the AdaIN paper does for spatial control).
- Strength for networks with conditional norms: their scales and shifts are moved
  toward a neutral point rather than fading the output into the photo: the identity
  (scale 1, shift 0) for per-style tables (:func:`toward_identity`), the photo's own
  embedding for Magenta's networks (as Ghiasi et al. do); ``fade`` is there to
  compare (README: "Strength").
"""

from __future__ import annotations

import copy
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from inceptionism.configs import check_strength
from inceptionism.errors import ConfigError, param
from inceptionism.ops import gaussian_blur

#: the feather of a region's edge: a Gaussian of this fraction of the image's long side
FEATHER = 0.01


def feather(mask: torch.Tensor, fraction: float = FEATHER) -> torch.Tensor:
    """``mask`` with its edges softened by a Gaussian of ``fraction`` of the long side (black stays black
    far from an edge, white stays white)."""
    sigma = fraction * max(mask.shape[-2:])
    if sigma < 0.5:
        return mask
    return gaussian_blur(mask, sigma)


def blend_regions(content: torch.Tensor, outputs: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]) -> torch.Tensor:
    """Each output where its (feathered) mask is, the content where none is; overlaps share by weight."""
    weights = torch.cat([feather(m) for m in masks], dim=1)  # 1,R,H,W
    total = weights.sum(1, keepdim=True)
    share = weights / total.clamp_min(1.0)  # where masks overlap past 1, they share; elsewhere the content fills up
    out = content * (1 - share.sum(1, keepdim=True))
    for i, o in enumerate(outputs):
        out = out + share[:, i:i + 1] * o
    return out.clamp_(0, 1)


def masked_gram(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The Gram matrix of ``features`` (``B,C,H,W``) inside ``mask`` (``1,1,H,W``), a weighted mean over its
    pixels, so that it compares with a whole painting's :func:`~inceptionism.style.gatys.gram`."""
    b, c, h, w = features.shape
    m = mask.float()
    f = (features.float() * m).reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * m.pow(2).sum().clamp_min(1e-8))


def layer_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A region's mask at a layer's spatial size (area average)."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.adaptive_avg_pool2d(mask.float(), size) if size[0] <= mask.shape[-2] else \
        F.interpolate(mask.float(), size=size, mode="bilinear", align_corners=False)


# -- strength for networks with conditional norms ---------------------------------------
def toward_identity(net: nn.Module, strength: float) -> nn.Module:
    """A copy of ``net`` whose conditional norms' scales and shifts are ``strength`` of the way from the
    identity (scale 1, shift 0) to the style's.

    For the networks that keep a table of scales and shifts per style: our
    train-style network and the 26-style demo network. Each table is mixed
    linearly, so moving it moves every mix alike. Magenta's embedding networks
    have a better neutral point than the identity, the photo's own embedding
    (:func:`inceptionism.style.magenta.toward_photo`).
    """
    check_strength(strength)
    if strength == 1.0:
        return net
    from inceptionism.style.magenta import MixedNorm
    from inceptionism.style.network import ConditionalInstanceNorm

    out = copy.deepcopy(net)
    found = False
    with torch.no_grad():
        for module in out.modules():
            if isinstance(module, ConditionalInstanceNorm):
                module.scale.mul_(strength).add_(1.0 - strength)
                module.shift.mul_(strength)
                found = True
            elif isinstance(module, MixedNorm):
                module.gamma.mul_(strength).add_(1.0 - strength)
                module.beta.mul_(strength)
                found = True
    if not found:
        raise ConfigError(f"this network has no table of conditional norms to weaken: use {param('strength_by', 'fade')}")
    return out
