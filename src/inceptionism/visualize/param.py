"""How a picture is represented while it is optimised: Fourier or pixel parameters, then colour.

After Olah et al., "Feature Visualization" (Distill, 2017) and their Lucid library
(lucent is its PyTorch port). Each parameterisation returns the tensors to optimise
and a function that makes the ``B,3,H,W`` picture in [0, 1] from them.

- :func:`fft_image`: the picture's spectrum, each frequency scaled by ``1/f``, so
  that a step of the optimiser changes all frequencies alike *in the picture's
  own statistics* (natural images' amplitude falls as ``1/f``). Plain pixel
  gradients are dominated by high frequencies, the speckle that class pictures
  from noise are known for.
- :func:`pixel_image`: one parameter per pixel and channel (for comparison).
- :func:`to_rgb`: the three channels are decorrelated colour: they are mapped to
  RGB by the square root of ImageNet's colour covariance (Lucid's
  ``color_correlation_svd_sqrt``), then squashed into [0, 1] by a sigmoid.
"""

from __future__ import annotations

from typing import Callable

import torch

#: Lucid's square root of ImageNet's RGB colour covariance (``U sqrt(S)`` of its SVD):
#: its first column is the luminance direction, the two others the colour-opponent ones
COLOR_CORRELATION_SVD_SQRT = torch.tensor([[0.26, 0.09, 0.02],
                                           [0.27, 0.00, -0.05],
                                           [0.27, -0.09, 0.03]])
#: Lucid scales the matrix so that its largest column has unit norm
COLOR_CORRELATION_NORMALIZED = COLOR_CORRELATION_SVD_SQRT / COLOR_CORRELATION_SVD_SQRT.norm(dim=0).max()

PARAMS = ("fft", "pixel")

ImageFn = Callable[[], torch.Tensor]


def rfft2d_freqs(height: int, width: int) -> torch.Tensor:
    """The frequency (cycles per pixel) of each entry of an ``rfft2`` of an ``height x width`` picture."""
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    return (fx * fx + fy * fy).sqrt()


def spectrum_scale(height: int, width: int, decay_power: float = 1.0) -> torch.Tensor:
    """``1 / f**decay_power`` for every frequency, the DC term treated as the lowest non-zero one."""
    freqs = rfft2d_freqs(height, width)
    return 1.0 / freqs.clamp_min(1.0 / max(height, width)) ** decay_power


def fft_image(batch: int, height: int, width: int, *, sd: float = 0.01, decay_power: float = 1.0,
              generator: torch.Generator | None = None,
              device: torch.device | str = "cpu") -> tuple[list[torch.Tensor], ImageFn]:
    """Parameters in Fourier space and the function that makes the (decorrelated, unbounded) picture."""
    scale = spectrum_scale(height, width, decay_power)
    spectrum = torch.randn(batch, 3, *scale.shape, 2, generator=generator) * sd
    spectrum = spectrum.to(device).requires_grad_(True)
    scale = scale.to(device)[None, None, :, :, None]

    def image() -> torch.Tensor:
        scaled = torch.view_as_complex((scale * spectrum).contiguous())
        # Lucid divides by 4 ("magic"): the starting picture then sits near 0.5 grey after the sigmoid
        return torch.fft.irfft2(scaled, s=(height, width), norm="ortho") / 4.0

    return [spectrum], image


def pixel_image(batch: int, height: int, width: int, *, sd: float = 0.01, generator: torch.Generator | None = None,
                device: torch.device | str = "cpu") -> tuple[list[torch.Tensor], ImageFn]:
    """One parameter per pixel and channel (decorrelated, unbounded)."""
    pixels = (torch.randn(batch, 3, height, width, generator=generator) * sd).to(device).requires_grad_(True)
    return [pixels], lambda: pixels


def decorrelate(t: torch.Tensor) -> torch.Tensor:
    """Decorrelated colour channels (``B,3,H,W``) to RGB directions, by the normalised colour matrix."""
    return torch.einsum("ij,bjhw->bihw", COLOR_CORRELATION_NORMALIZED.to(t), t)


def to_rgb(t: torch.Tensor, *, decorrelated: bool = True) -> torch.Tensor:
    """The parameters' picture as RGB in [0, 1]: colour decorrelation (optional), then a sigmoid."""
    return torch.sigmoid(decorrelate(t) if decorrelated else t)


def image(param: str, batch: int, height: int, width: int, *, decorrelated: bool = True, sd: float = 0.01,
          generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> tuple[list[torch.Tensor], ImageFn]:
    """The parameters and picture function of a ``param`` ("fft" or "pixel") picture, RGB in [0, 1]."""
    if param == "fft":
        params, raw = fft_image(batch, height, width, sd=sd, generator=generator, device=device)
    elif param == "pixel":
        params, raw = pixel_image(batch, height, width, sd=sd, generator=generator, device=device)
    else:
        from inceptionism.errors import ConfigError

        raise ConfigError(f"param must be one of {', '.join(PARAMS)}, got {param!r}")
    return params, lambda: to_rgb(raw(), decorrelated=decorrelated)


def precondition(grad: torch.Tensor, *, decay_power: float = 1.0) -> torch.Tensor:
    """A pixel gradient as the step a Fourier, decorrelated-colour parameterisation would take.

    The chain rule through :func:`fft_image` and :func:`decorrelate` turns a pixel
    gradient ``g`` into the parameters' gradient and, after the step, back into a
    change of the picture of ``C C^T F^-1(s^2 F(g))`` (``s = 1/f``, ``C`` the colour
    matrix). Here ``s`` rather than ``s^2`` (``decay_power`` 1 spends one factor on
    whitening only), so that a dream on a photo grows larger, coherent shapes in
    natural colours without washing the photo out into blobs.
    """
    h, w = grad.shape[-2:]
    scale = spectrum_scale(h, w, decay_power).to(device=grad.device)
    g = torch.fft.irfft2(torch.fft.rfft2(grad.float()) * scale, s=(h, w))
    m = COLOR_CORRELATION_NORMALIZED.to(g)
    return torch.einsum("ij,bjhw->bihw", m @ m.T, g).to(grad.dtype)
