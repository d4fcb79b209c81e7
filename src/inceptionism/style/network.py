"""A feed-forward style network that knows N styles (Johnson et al. 2016; Dumoulin et al. 2017).

Johnson's image transformation network (two strided convolutions down, five
residual blocks, two upsampling convolutions back) with every normalisation a
*conditional* instance norm: one scale and shift per style. A style is chosen, or
several blended, by the weights that mix those parameters (Dumoulin et al.'s
"A Learned Representation for Artistic Style"). Departures: nearest upsampling then
convolution instead of transposed convolutions (no checkerboard artefacts), a
sigmoid output so pixels stay in [0, 1], and (``skip``) the output is added to the
input's logits, with the last convolution starting at zero: the untrained network
is the identity, so training need not first learn to reproduce the content.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConditionalInstanceNorm(nn.Module):
    def __init__(self, channels: int, styles: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.scale = nn.Parameter(torch.ones(styles, channels))
        self.shift = nn.Parameter(torch.zeros(styles, channels))
        #: "record": keep this input's statistics; "fixed": normalise with the kept ones (tiling)
        self.mode: str | None = None
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        scale = (mix @ self.scale)[:, :, None, None]
        shift = (mix @ self.shift)[:, :, None, None]
        if self.mode is None:
            normed = self.norm(x)
        else:
            if self.mode == "record":  # in float32, whatever the compute dtype
                xf = x.float()
                self.stats = (xf.mean(dim=(2, 3), keepdim=True), xf.var(dim=(2, 3), keepdim=True, unbiased=False))
            assert self.stats is not None
            mean, var = self.stats
            normed = ((x - mean) / torch.sqrt(var + self.norm.eps)).to(x.dtype)
        return normed * scale + shift


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


class ConvNorm(nn.Module):
    """Reflection-padded convolution, conditional instance norm, optional ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, styles: int, *, stride: int = 1, upsample: bool = False,
                 relu: bool = True):
        super().__init__()
        self.upsample = upsample
        # oneDNN's 9x9 convolutions with 3 channels on one side are 2-5x faster (backward) in channels_last;
        # the 3x3 ones inside are faster in the default layout (measured on the CPU)
        self.channels_last = kernel > 3
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride)
        self.norm = ConditionalInstanceNorm(cout, styles)
        self.relu = relu

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = self.pad(x)
        x = self.conv(_channels_last(x)).contiguous() if self.channels_last else self.conv(x)
        x = self.norm(x, mix)
        return F.relu(x) if self.relu else x


class Residual(nn.Module):
    def __init__(self, channels: int, styles: int):
        super().__init__()
        self.a = ConvNorm(channels, channels, 3, styles)
        self.b = ConvNorm(channels, channels, 3, styles, relu=False)

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x, mix), mix)


class StyleNetwork(nn.Module):
    """``forward(image, mix)``: image ``B,3,H,W`` in [0, 1], mix ``B,N`` style weights (rows sum to 1)."""

    def __init__(self, styles: int, width: int = 32, residual_blocks: int = 5, *, skip: bool = False):
        super().__init__()
        self.styles, self.width, self.residual_blocks, self.skip = styles, width, residual_blocks, skip
        w = width
        self.down = nn.ModuleList([
            ConvNorm(3, w, 9, styles), ConvNorm(w, 2 * w, 3, styles, stride=2),
            ConvNorm(2 * w, 4 * w, 3, styles, stride=2),
        ])
        self.res = nn.ModuleList([Residual(4 * w, styles) for _ in range(residual_blocks)])
        self.up = nn.ModuleList([
            ConvNorm(4 * w, 2 * w, 3, styles, upsample=True), ConvNorm(2 * w, w, 3, styles, upsample=True),
        ])
        self.pad_out = nn.ReflectionPad2d(4)
        self.out = nn.Conv2d(w, 3, 9)
        if skip:
            # the network adds to the input's logits and starts as the identity: content is kept from the
            # first step, and training spends its steps on the style
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, image: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        # the two stride-2 steps need sides divisible by 4: pad by reflection, crop after
        # (always padded, by 0 where nothing is needed, so that an exported graph pads at every size)
        x = F.pad(image, (0, (-w) % 4, 0, (-h) % 4), mode="reflect")
        x = x * 2 - 1
        for layer in self.down:
            x = layer(x, mix)
        for block in self.res:
            x = block(x, mix)
        for layer in self.up:
            x = layer(x, mix)
        x = self.out(_channels_last(self.pad_out(x)))[..., :h, :w]
        if self.skip:
            x = x + torch.logit(image, eps=1e-3)
        return torch.sigmoid(x).contiguous()


def mix_weights(styles: int, *, index: int | None = None, mix: list[float] | None = None,
                batch: int = 1, device: torch.device | str = "cpu") -> torch.Tensor:
    """``B,N`` mixing weights: one-hot for ``index``, or ``mix`` normalised to sum to 1."""
    from inceptionism.errors import ConfigError, param

    if (index is None) == (mix is None):
        raise ConfigError("choose a style with an index or a mix (one of them)")
    if index is not None:
        if not 0 <= index < styles:
            raise ConfigError(f"style index {index} is out of range: this model has {styles} styles (0 to {styles - 1})")
        weights = torch.zeros(styles)
        weights[index] = 1.0
    else:
        assert mix is not None
        if len(mix) != styles:
            raise ConfigError(f"{param('mix')} has {len(mix)} weights but the model has {styles} styles")
        if any(m < 0 for m in mix) or sum(mix) <= 0:
            raise ConfigError("mix weights must be 0 or more and not all 0")
        weights = torch.tensor(mix, dtype=torch.float32) / sum(mix)
    return weights.expand(batch, styles).to(device)
