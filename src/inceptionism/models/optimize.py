"""Making a loaded network cheaper to dream with, without changing what it computes.

- Batch norm folded into the convolution before it (eval mode only: the running
  statistics are constants). A timm ``BatchNormAct2d`` keeps its activation. The
  folded network is checked against the original on a probe input, and the fold is
  undone if they disagree, so an architecture whose children are not declared in
  forward order can never be silently changed. After folding, a convolution's
  address yields its output *after* batch norm; the batch-norm address still gives
  what it always did.
- ``channels_last`` memory format, which oneDNN (CPU) and cuDNN (GPU) prefer for
  convolutions.
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

log = logging.getLogger(__name__)


def _after_bn(bn: nn.BatchNorm2d) -> nn.Module:
    """What is left of a batch-norm module once its affine transform is folded away."""
    act, drop = getattr(bn, "act", None), getattr(bn, "drop", None)
    rest = [m for m in (drop, act) if isinstance(m, nn.Module) and not isinstance(m, nn.Identity)]
    return nn.Sequential(*rest) if rest else nn.Identity()


def _fold_pairs(root: nn.Module) -> int:
    folded = 0
    for parent in list(root.modules()):
        names = list(parent._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = parent._modules[a], parent._modules[b]
            if (
                isinstance(conv, nn.Conv2d)
                and isinstance(bn, nn.BatchNorm2d)
                and bn.track_running_stats
                and bn.running_mean is not None
                and bn.num_features == conv.out_channels
            ):
                parent._modules[a] = fuse_conv_bn_eval(conv.eval(), bn.eval())
                parent._modules[b] = _after_bn(bn)
                folded += 1
    return folded


@torch.no_grad()
def fold_batchnorm(net: nn.Module, *, probe_size: int = 96, tolerance: float = 1e-3) -> tuple[nn.Module, int]:
    """``net`` with every conv + batch-norm pair folded, or ``net`` itself if that would change it.

    Returns the network to use and the number of pairs folded.
    """
    if not any(isinstance(m, nn.BatchNorm2d) for m in net.modules()):
        return net, 0
    folded_net = copy.deepcopy(net).eval()
    count = _fold_pairs(folded_net)
    if count == 0:
        return net, 0
    p = next(net.parameters())
    x = torch.rand(1, 3, probe_size, probe_size, generator=torch.Generator().manual_seed(0)).to(p)
    want, got = net.eval()(x), folded_net(x)
    error = ((want - got).abs().max() / (want.abs().max() + 1e-6)).item()
    if error > tolerance:
        log.warning("batch-norm folding changed the outputs (relative error %.2g); left unfolded", error)
        return net, 0
    return folded_net, count


def to_channels_last(net: nn.Module) -> nn.Module:
    return net.to(memory_format=torch.channels_last)
