"""Lucid's recipe for a class from nothing, as the issue's prototype wrote it: the peer ``benchmarks.visualize``
times ours beside (Olah et al. 2017, "Feature Visualization"; lucent is Lucid's PyTorch port).

timm's ``tf_efficientnet_lite0`` as timm builds it (batch norm unfolded, plain convolutions) with the embedded
weights; a 1/f-scaled Fourier picture with decorrelated colour squashed by a sigmoid; before every step Lucid's
standard transforms (pad 12, jitter 8, scale 0.9-1.1, rotate up to 10 degrees, jitter 4); Adam at 0.05 on the
class's logit. Nothing of ``inceptionism.visualize`` is used, so it measures the recipe, not our code.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F

#: Lucid's square root of ImageNet's colour covariance, its largest column scaled to unit norm
_COLOR = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR = _COLOR / _COLOR.norm(dim=0).max()


def timm_lite0() -> torch.nn.Module:
    """timm's EfficientNet-Lite0 with the embedded ImageNet weights, frozen, in eval mode."""
    import timm

    from inceptionism.models.efficientnet_lite0 import _load_lite0

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    net.load_state_dict(_load_lite0(progress=False))
    return net.eval().requires_grad_(False)


def render_class(net: torch.nn.Module, index: int, *, size: int = 224, steps: int = 256, lr: float = 0.05,
                 seed: int = 0) -> torch.Tensor:
    """A ``1,3,size,size`` picture in [0, 1] of ImageNet class ``index``."""
    generator = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    fy, fx = torch.fft.fftfreq(size)[:, None], torch.fft.rfftfreq(size)[None]
    scale = (1.0 / (fx * fx + fy * fy).sqrt().clamp_min(1.0 / size))[None, None, :, :, None]
    spectrum = (torch.randn(1, 3, size, size // 2 + 1, 2, generator=generator) * 0.01).requires_grad_(True)
    optimizer = torch.optim.Adam([spectrum], lr=lr)

    def picture() -> torch.Tensor:
        x = torch.fft.irfft2(torch.view_as_complex(scale * spectrum), s=(size, size), norm="ortho") / 4.0
        return torch.sigmoid(torch.einsum("ij,bjhw->bihw", _COLOR, x))

    for _ in range(steps):
        optimizer.zero_grad()
        x = F.pad(picture(), (12, 12, 12, 12), value=0.5)
        x = torch.roll(x, (rng.randint(-8, 8), rng.randint(-8, 8)), (2, 3))
        x = F.interpolate(x, scale_factor=rng.choice([1 + (i - 5) / 50 for i in range(11)]), mode="bilinear")
        a = math.radians(rng.randint(-10, 10))
        theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]])[None]
        x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False)
        x = torch.roll(x, (rng.randint(-4, 4), rng.randint(-4, 4)), (2, 3))
        (-net((x - 0.5) / 0.5)[0, index]).backward()
        optimizer.step()
    with torch.no_grad():
        return picture()
