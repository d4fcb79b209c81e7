"""Neural style transfer by optimisation (Gatys, Ecker and Bethge, 2016).

The output image is optimised so that its features at the content layers match
the content image's, and the Gram matrices of its features at the style layers
match the style image's (a weighted blend of several styles' Gram matrices when
several are given). Departures from the paper, as in most modern implementations:

- coarse-to-fine: the image is optimised at a few scales, doubling in size, each
  starting from the previous result upsampled, so large outputs converge well;
- Adam by default (L-BFGS, the paper's choice, is available), on pixels in [0, 1]
  clamped after each step, plus a small total-variation term against noise;
- the loss network is any registry model, the embedded EfficientNet-Lite0 by default;
- colour can be preserved by luminance-only transfer (Gatys et al. 2017) or by
  matching the style's colour statistics to the content's first.

Targets (content features, style Grams) are computed once per scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from inceptionism.ops import preserve_colors as luminance_transfer
from inceptionism.ops import resize
from inceptionism.configs import COLOR_MODES, OPTIMIZERS, StyleConfig  # noqa: F401 - re-exported
from inceptionism.models.network import Network
from inceptionism.parsing import style_weights as check_style_weights
from inceptionism.precision import autocast as autocast_to
from inceptionism.precision import autocast_dtype
from inceptionism.errors import ConfigError
from inceptionism.ops import fit_mask
from inceptionism.style.regions import blend_regions, layer_mask, masked_gram

@dataclass
class StyleStep:
    scale: int  # 0-based, smallest first
    scales: int
    step: int  # 1-based within the scale
    steps: int
    loss: torch.Tensor  # 0-d, on the device
    image: torch.Tensor  # the current image (do not modify)


@dataclass
class StyleResult:
    image: torch.Tensor  # 1,3,H,W in [0, 1], CPU
    losses: list[float]  # total loss after each step, all scales in order


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of ``B,C,H,W`` features, normalised by C*H*W."""
    b, c, h, w = features.shape
    f = features.float().reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def scale_sizes(height: int, width: int, size: int, scales: int, min_size: int) -> list[tuple[int, int]]:
    """Output sizes per scale, smallest first, each twice the previous, the last with long side ``size``."""
    aspect = height / width
    long_sides = [size]
    while (scales == 0 and long_sides[-1] // 2 >= max(128, min_size)) or (0 < scales and len(long_sides) < scales):
        if long_sides[-1] // 2 < min_size:
            break
        long_sides.append(long_sides[-1] // 2)
    out = []
    for side in reversed(long_sides):
        if aspect >= 1:
            out.append((side, max(min_size, round(side / aspect))))
        else:
            out.append((max(min_size, round(side * aspect)), side))
    return [(h, w) for h, w in out]


def match_colors(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """``style`` with its colour mean and covariance changed to the content's (linear transfer)."""

    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = x[0].reshape(3, -1).double()
        mean = flat.mean(1, keepdim=True)
        centred = flat - mean
        return mean, centred @ centred.T / flat.shape[1] + 1e-5 * torch.eye(3, dtype=flat.dtype)

    def sqrtm(m: torch.Tensor, inverse: bool = False) -> torch.Tensor:
        vals, vecs = torch.linalg.eigh(m)
        vals = vals.clamp_min(1e-8).sqrt()
        return vecs @ torch.diag(1 / vals if inverse else vals) @ vecs.T

    ms, cs = stats(style)
    mc, cc = stats(content)
    transform = sqrtm(cc) @ sqrtm(cs, inverse=True)
    flat = style[0].reshape(3, -1).double()
    out = transform @ (flat - ms) + mc
    return out.reshape_as(style[0])[None].to(style.dtype).clamp(0, 1)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


class StyleLoss:
    """Content, style and smoothness loss for one scale, targets computed once."""

    def __init__(self, network: Network, content: torch.Tensor, styles: Sequence[torch.Tensor],
                 style_weights: Sequence[float], content_layers: Sequence[str], style_layers: Sequence[str],
                 config: StyleConfig, autocast: torch.dtype | None = None,
                 regions: Sequence[torch.Tensor] | None = None):
        self.network = network
        #: the loss network's compute dtype (None: float32); targets and losses are float32 either way
        self.autocast = autocast
        self.content_layers = list(content_layers)
        self.style_layers = list(style_layers)
        self.config = config
        layers = list(dict.fromkeys(self.content_layers + self.style_layers))
        self.extractor = network.extractor(layers).__enter__()
        with torch.no_grad():
            feats = self._features(content)
            self.content_targets = {a: feats[a].detach().float() for a in self.content_layers}
            self.style_targets = {a: torch.zeros(()) for a in self.style_layers}
            total = sum(style_weights)
            #: with regions: each style's own Gram targets, matched inside its region (Gatys et al. 2017)
            self.regions = list(regions) if regions else None
            self.region_targets: list[dict[str, torch.Tensor]] = []
            self.region_weights = [len(style_weights) * w / total for w in style_weights]
            for style, w in zip(styles, style_weights):
                sfeats = self._features(style)
                own = {a: gram(sfeats[a]).detach() for a in self.style_layers}
                self.region_targets.append(own)
                for a in self.style_layers:
                    self.style_targets[a] = self.style_targets[a] + (w / total) * own[a]
        # scale each style layer so that a random image starts with comparable losses per layer
        self.style_norm = {a: 1.0 / (self.style_targets[a].pow(2).mean().item() + 1e-12) for a in self.style_layers}
        self._layer_masks: dict[tuple[int, tuple[int, int]], torch.Tensor] = {}
        self.content_norm = {a: 1.0 / (self.content_targets[a].pow(2).mean().item() + 1e-12) for a in self.content_layers}

    def close(self) -> None:
        self.extractor.__exit__(None, None, None)

    def mask_at(self, region: int, features: torch.Tensor) -> torch.Tensor:
        """Region ``region``'s mask at the size of ``features`` (computed once per size)."""
        assert self.regions is not None
        size = tuple(features.shape[-2:])
        key = (region, size)
        if key not in self._layer_masks:
            self._layer_masks[key] = layer_mask(self.regions[region], size).to(features.device)
        return self._layer_masks[key]

    def _features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        with autocast_to(self.autocast, image.device):
            return self.extractor(image)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        feats = self._features(image)
        c = self.config
        content = sum(self.content_norm[a] * F.mse_loss(feats[a].float(), self.content_targets[a])
                      for a in self.content_layers)
        if self.regions is None:
            style = sum(self.style_norm[a] * F.mse_loss(gram(feats[a]), self.style_targets[a])
                        for a in self.style_layers) / max(1, len(self.style_layers))
        else:
            style = sum(w * self.style_norm[a] * F.mse_loss(masked_gram(feats[a], self.mask_at(r, feats[a])), targets[a])
                        for r, (w, targets) in enumerate(zip(self.region_weights, self.region_targets))
                        for a in self.style_layers) / max(1, len(self.style_layers) * len(self.region_targets))
        # the constants make weight 1 of each a good balance for the default layers (tuned by eye on
        # tubingen + starry_night with EfficientNet-Lite0)
        return c.content_weight * content + 10.0 * c.style_weight * style + 10.0 * c.tv_weight * total_variation(image)


def stylize_optimize(
    network: Network,
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    config: StyleConfig = StyleConfig(),
    *,
    style_weights: Sequence[float] | None = None,
    callback: Callable[[StyleStep], None] | None = None,
    resume: tuple[int, int, torch.Tensor] | None = None,
    regions: Sequence[torch.Tensor] | None = None,
) -> StyleResult:
    """Optimise an image with ``content``'s layout in the (blended) style of ``styles``.

    ``regions``: one mask (``1,1,h,w`` in [0, 1], the content's aspect ratio) per
    style: each style is matched inside its own region only, and what no region
    covers stays the content (:mod:`inceptionism.style.regions`).

    ``resume``: (scale, steps done at that scale, image) of a run that stopped, to
    go on from there (the optimiser's moments start afresh).
    """
    weights = check_style_weights(style_weights, len(styles))
    content_layers = config.content_layers or network.spec.content_layers or network.spec.default_layers
    style_layers = config.style_layers or network.spec.style_layers or network.spec.default_layers
    for address in (*content_layers, *style_layers):
        network.resolve(address)
    param = next(network.parameters())
    device, dtype = param.device, param.dtype
    content = content.to(device=device, dtype=dtype)
    styles = [s.to(device=device, dtype=dtype) for s in styles]
    if config.preserve_colors == "match":
        styles = [match_colors(s, content) for s in styles]
    if regions is not None and len(regions) != len(styles):
        raise ConfigError(f"{len(regions)} regions for {len(styles)} styles: give each style its region")
    full = [fit_mask(r.to(device), tuple(content.shape[-2:]), f"region {i + 1}", kind="region")
            for i, r in enumerate(regions or ())]
    sizes = scale_sizes(content.shape[-2], content.shape[-1], config.size, config.scales, network.min_size)
    generator = torch.Generator().manual_seed(config.seed)
    losses: list[torch.Tensor] = []
    image: torch.Tensor | None = None
    for index, size in enumerate(sizes):
        done = 0
        if resume is not None:
            if index < resume[0]:
                continue
            if index == resume[0]:
                image, done = resume[2].to(device=device, dtype=dtype), resume[1]
        target = resize(content, size)
        style_side = max(network.min_size, round(max(size) * config.style_scale))
        scaled_styles = [_resize_long(s, style_side) for s in styles]
        loss_fn = StyleLoss(network, target, scaled_styles, weights, content_layers, style_layers, config,
                            autocast_dtype(config.precision, device, network.spec),
                            regions=[resize(r, size) for r in full] or None)
        try:
            if image is None:
                image = target.clone() if config.init == "content" else \
                    torch.rand(target.shape, generator=generator).to(target)
            else:
                image = resize(image, size)
            image = _optimise(image.detach(), loss_fn, config, index, len(sizes), losses, callback, done)
        finally:
            loss_fn.close()
    assert image is not None
    if config.preserve_colors == "luminance":
        image = luminance_transfer(image, content)
    if full:  # what no region covers is the content
        size = tuple(image.shape[-2:])
        image = blend_regions(resize(content, size).float(), [image.float()] * len(full), [resize(m, size) for m in full])
    return StyleResult(image=image.detach().float().cpu(), losses=[v.item() for v in losses])


def _resize_long(image: torch.Tensor, side: int) -> torch.Tensor:
    h, w = image.shape[-2:]
    scale = side / max(h, w)
    return resize(image, (max(1, round(h * scale)), max(1, round(w * scale))))


def _optimise(image: torch.Tensor, loss_fn: StyleLoss, config: StyleConfig, scale: int, scales: int,
              losses: list[torch.Tensor], callback: Callable[[StyleStep], None] | None, done: int = 0) -> torch.Tensor:
    image = image.contiguous().requires_grad_(True)
    # the loss network runs channels_last, so the gradient comes back in that layout; L-BFGS
    # flattens it with .view(), which needs the image's own (contiguous) layout
    image.register_hook(lambda g: g.contiguous())
    if config.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam([image], lr=config.lr)
        for step in range(done, config.steps):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(image)
            loss.backward()
            opt.step()
            with torch.no_grad():
                image.clamp_(0, 1)
            losses.append(loss.detach())
            if callback is not None:
                callback(StyleStep(scale, scales, step + 1, config.steps, loss.detach(), image.detach()))
    else:
        opt = torch.optim.LBFGS([image], lr=1.0, max_iter=1, history_size=50, line_search_fn="strong_wolfe")
        for step in range(done, config.steps):
            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(image)
                loss.backward()
                return loss

            loss = opt.step(closure)
            with torch.no_grad():
                image.clamp_(0, 1)
            losses.append(loss.detach())
            if callback is not None:
                callback(StyleStep(scale, scales, step + 1, config.steps, loss.detach(), image.detach()))
    return image.detach()
