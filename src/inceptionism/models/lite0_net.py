"""EfficientNet-Lite0 as plain PyTorch modules, with timm's module names and state-dict keys.

timm's ``tf_efficientnet_lite0`` is the reference (``tests/test_models.py`` checks that
this network computes what timm's does with the same tensors, to float rounding), but
importing timm costs about 1.5 s: it imports ``torchvision.models`` and with it
``torch._dynamo``. Building this network takes no import beyond torch, so a command
starts in a second less. Every address (``blocks.4``, ``blocks.1.0.conv_dw``,
``bn2``, ``classifier``) and every state-dict key is timm's.

The architecture (Tan & Le 2019, "Lite" variant): no squeeze-and-excitation, ReLU6
instead of swish, a fixed 32-channel stem and 1280-channel head; TensorFlow's
"SAME" padding, which for the stride-2 convolutions pads one pixel more after
than before on even sizes (:class:`Conv2dSame`); batch norm with eps 1e-3.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: one row a stage: (block kind, repeats, kernel, stride, expansion, output channels)
STAGES = (
    ("ds", 1, 3, 1, 1, 16),
    ("ir", 2, 3, 2, 6, 24),
    ("ir", 2, 5, 2, 6, 40),
    ("ir", 3, 3, 2, 6, 80),
    ("ir", 3, 5, 1, 6, 112),
    ("ir", 4, 5, 2, 6, 192),
    ("ir", 1, 3, 1, 6, 320),
)
STEM, HEAD = 32, 1280


def tf_same_padding(length: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'SAME' padding of one dimension: (before, after)."""
    total = max((-(-length // stride) - 1) * stride + kernel - length, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """A convolution with TensorFlow's 'SAME' padding, computed for each input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (top, bottom), (left, right) = (tf_same_padding(n, k, s) for n, k, s in
                                        zip(x.shape[-2:], self.kernel_size, self.stride))
        return F.conv2d(F.pad(x, (left, right, top, bottom)), self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)


class BatchNormAct2d(nn.BatchNorm2d):
    """Batch norm, then an activation (timm's module of the same name; ``drop`` is always the identity here)."""

    def __init__(self, channels: int, *, act: bool):
        super().__init__(channels, eps=1e-3)
        self.drop = nn.Identity()
        self.act: nn.Module = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(super().forward(x)))


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    if stride == 1:  # odd kernel, stride 1: TF 'SAME' is symmetric
        return nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups, bias=False)
    return Conv2dSame(cin, cout, kernel, stride=stride, groups=groups, bias=False)


class DepthwiseSeparableConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.conv_dw = _conv(cin, cin, kernel, stride, groups=cin)
        self.bn1 = BatchNormAct2d(cin, act=True)
        self.aa, self.se = nn.Identity(), nn.Identity()
        self.conv_pw = _conv(cin, cout, 1)
        self.bn2 = BatchNormAct2d(cout, act=False)
        self.drop_path = nn.Identity()
        self.has_skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv_pw(self.se(self.aa(self.bn1(self.conv_dw(x))))))
        return self.drop_path(y) + x if self.has_skip else y


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        mid = cin * expansion
        self.conv_pw = _conv(cin, mid, 1)
        self.bn1 = BatchNormAct2d(mid, act=True)
        self.conv_dw = _conv(mid, mid, kernel, stride, groups=mid)
        self.bn2 = BatchNormAct2d(mid, act=True)
        self.aa, self.se = nn.Identity(), nn.Identity()
        self.conv_pwl = _conv(mid, cout, 1)
        self.bn3 = BatchNormAct2d(cout, act=False)
        self.drop_path = nn.Identity()
        self.has_skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))
        y = self.bn3(self.conv_pwl(self.se(self.aa(y))))
        return self.drop_path(y) + x if self.has_skip else y


class GlobalPool(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.flatten(self.pool(x))


class EfficientNetLite0(nn.Module):
    def __init__(self, num_classes: int = 1000, *, init_weights: bool = True):
        super().__init__()
        self.conv_stem = _conv(3, STEM, 3, 2)
        self.bn1 = BatchNormAct2d(STEM, act=True)
        stages, cin = [], STEM
        for kind, repeats, kernel, stride, expansion, cout in STAGES:
            blocks: list[nn.Module] = []
            for i in range(repeats):
                s = stride if i == 0 else 1
                blocks.append(DepthwiseSeparableConv(cin, cout, kernel, s) if kind == "ds"
                              else InvertedResidual(cin, cout, kernel, s, expansion))
                cin = cout
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.conv_head = _conv(cin, HEAD, 1)
        self.bn2 = BatchNormAct2d(HEAD, act=True)
        self.global_pool = GlobalPool()
        self.num_features = HEAD
        self.classifier = nn.Linear(HEAD, num_classes)
        if init_weights:  # (not for weights about to be loaded, nor on the meta device)
            self._init_weights()

    def _init_weights(self) -> None:
        """timm's EfficientNet initialisation (fan-out normal for convolutions), for untrained use."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, (2.0 / fan_out) ** 0.5)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / (m.weight.shape[0] ** 0.5)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn2(self.conv_head(self.blocks(self.bn1(self.conv_stem(x)))))
        return self.classifier(self.global_pool(x))
