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
- Dense and depthwise convolutions of stride 1 or 2 (timm's TF-"same" ones too)
  become :class:`FusedConv2d`: on the CPU the ReLU/ReLU6 that follows runs inside
  oneDNN's convolution (one pass over the activation instead of two), and the
  backward pass computes only the input's gradient (the weights never need one
  when dreaming); for stride 1 as a forward convolution with the flipped kernel,
  since oneDNN's backward-data kernel for depthwise convolutions is several times
  slower than its forward one. TF "same" padding becomes a zero tap in the kernel
  instead of a padded copy of the input. The fused
  activation's slot keeps its address and still yields the activated output; while
  a convolution's own address is being extracted, that convolution runs unfused so
  its address keeps yielding the output before the activation.
"""

from __future__ import annotations

import contextlib
import functools
import copy
import logging
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from inceptionism.models.lite0_net import Conv2dSame, tf_same_padding

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
def _relative_error(net: nn.Module, other: nn.Module, probe_size: int) -> float:
    """How far ``other``'s output is from ``net``'s on a fixed random probe."""
    p = next(net.parameters())
    x = torch.rand(1, 3, probe_size, probe_size, generator=torch.Generator().manual_seed(0)).to(p)
    want, got = net.eval()(x), other.eval()(x)
    return ((want - got).abs().max() / (want.abs().max() + 1e-6)).item()


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
    error = _relative_error(net, folded_net, probe_size)
    if error > tolerance:
        log.warning("batch-norm folding changed the outputs (relative error %.2g); left unfolded", error)
        return net, 0
    return folded_net, count


# -- convolution + activation fusion ------------------------------------------
class Fusion:
    """Whether a fused pair currently runs fused; shared by the conv and its activation slot."""

    def __init__(self) -> None:
        self.on = True


class FusedConv2d(nn.Conv2d):
    """A convolution that may carry the clamp after it, made for input gradients (see the module doc).

    Same parameters and state-dict keys as the :class:`~torch.nn.Conv2d` (or timm
    ``Conv2dSame``) it replaces. With ``tf_same`` the padding is TensorFlow's 'SAME',
    computed per input size: where it is one pixel larger after than before (a
    stride-2 convolution of an even size), the kernel gets a leading row/column of
    zeros and symmetric padding instead of a padded copy of the input.
    """

    def __init__(self, conv: nn.Conv2d, clamp: tuple[float, float] | None, fusion: Fusion, *, tf_same: bool):
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                         padding=conv.padding, groups=conv.groups, bias=conv.bias is not None,
                         device=conv.weight.device, dtype=conv.weight.dtype)
        self.weight, self.bias = conv.weight, conv.bias
        self.clamp = clamp
        self.fusion = fusion
        self.tf_same = tf_same
        self._kernels: dict[tuple[object, ...], torch.Tensor] = {}

    def _cached(self, key: tuple[object, ...], make: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        w = self.weight
        full = key + (w.data_ptr(), w._version, w.device)
        if full not in self._kernels:
            self._kernels = {k: v for k, v in self._kernels.items() if k[-3:] == full[-3:]}
            fmt = torch.channels_last if w.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
            made = make(w.detach())
            self._kernels[full] = made.contiguous(memory_format=fmt) if made.ndim == 4 else made.contiguous()
        return self._kernels[full]

    def geometry(self, height: int, width: int) -> tuple[torch.Tensor, tuple[int, int]]:
        """The kernel and the symmetric padding for an input of this size."""
        if not self.tf_same:
            return self.weight, self.padding  # type: ignore[return-value]
        # TF 'SAME' pads (before, after) with after - before in {0, 1}: symmetric
        # ``after``, and a leading zero tap where ``before`` is one less
        sides = [tf_same_padding(n, k, s) for n, k, s in zip((height, width), self.kernel_size, self.stride)]
        grow = tuple(after - before for before, after in sides)
        padding = (sides[0][1], sides[1][1])
        if not any(grow):
            return self.weight, padding
        kernel = self._cached(("grow",) + grow, lambda w: F.pad(w, (grow[1], 0, grow[0], 0)))
        return kernel, padding

    def cast(self, tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """``tensor`` (this convolution's weight, bias or a kernel made from them) in ``dtype``, cast once."""
        if tensor.dtype == dtype:
            return tensor
        return self._cached(("cast", dtype, tensor.data_ptr(), tuple(tensor.shape)), lambda w: tensor.detach().to(dtype))

    def backward_kernel(self) -> torch.Tensor:
        """For stride 1: the kernel that maps an output gradient to the input gradient."""
        def make(w: torch.Tensor) -> torch.Tensor:
            flipped = w.flip(2, 3)
            return flipped.transpose(0, 1) if self.groups == 1 else flipped
        return self._cached(("backward",), make)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        clamp = self.clamp if self.fusion.on else None
        if self.weight.requires_grad or (self.bias is not None and self.bias.requires_grad):
            weight, padding = self.geometry(*x.shape[-2:])
            y = F.conv2d(x, weight, self.bias, self.stride, padding, 1, self.groups)
            return y if clamp is None else y.clamp(*clamp)
        return _ConvInputGrad.apply(x, self, clamp)


class _ActSlot(nn.Module):
    """Where the activation after a :class:`FusedConv2d` was: applies it only when not fused."""

    def __init__(self, clamp: tuple[float, float], fusion: Fusion):
        super().__init__()
        self.clamp = clamp
        self.fusion = fusion

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.fusion.on else x.clamp(*self.clamp)

    def extra_repr(self) -> str:
        return f"clamp={self.clamp}, fused into the convolution before it"


class _ConvInputGrad(torch.autograd.Function):
    """conv2d (+ clamp) whose backward computes only the input's gradient.

    A stride-1 convolution's input gradient is itself a convolution (of the output
    gradient with the flipped kernel) and runs as a forward one, which oneDNN does
    much faster than its backward-data kernel for depthwise convolutions.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, conv: FusedConv2d, clamp: tuple[float, float] | None) -> torch.Tensor:
        weight, padding = conv.geometry(*x.shape[-2:])
        bias = conv.bias
        stride = list(conv.stride)
        # under autocast, compute in its dtype with kernels cast once (autocast would cast them every call)
        kind = x.device.type
        autocasting = torch.is_autocast_enabled(kind)
        dtype = torch.get_autocast_dtype(kind) if autocasting else x.dtype
        if dtype != weight.dtype:
            weight = conv.cast(weight, dtype)
            bias = conv.cast(bias, dtype) if bias is not None else None
        x = x.to(dtype)
        one_dnn = (kind == "cpu" and dtype in (torch.float32, torch.bfloat16) and torch.backends.mkldnn.is_available()
                   and (dtype == torch.float32 or _onednn_bf16()))
        with torch.autocast(kind, enabled=False) if autocasting else contextlib.nullcontext():
            if clamp is not None and one_dnn:
                attr, scalars = ("relu", []) if clamp == (0.0, math.inf) else ("hardtanh", list(clamp))
                y = torch.ops.mkldnn._convolution_pointwise(
                    x, weight, bias, list(padding), stride, [1, 1], conv.groups, attr, scalars, None)
            else:
                y = F.conv2d(x, weight, bias, conv.stride, padding, 1, conv.groups)
                if clamp is not None:
                    y = y.clamp_(*clamp)
        ctx.conv, ctx.clamp, ctx.geometry = conv, clamp, (weight, padding)
        saved = [y if clamp is not None else None, x if conv.stride != (1, 1) else None]
        ctx.save_for_backward(*saved)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        conv, clamp = ctx.conv, ctx.clamp
        weight, padding = ctx.geometry
        y, x = ctx.saved_tensors
        if clamp is not None:
            # the clamp's output is strictly inside (lo, hi) exactly where its input was,
            # so the output serves as well as the input (which is never materialised)
            if clamp[1] == math.inf:
                grad = torch.ops.aten.threshold_backward(grad, y, clamp[0])
            else:
                grad = torch.ops.aten.hardtanh_backward(grad, y, clamp[0], clamp[1])
        if conv.stride == (1, 1):
            kh, kw = conv.kernel_size
            # under autocast the output gradient comes in the forward's compute dtype
            grad_x = F.conv2d(grad, conv.cast(conv.backward_kernel(), grad.dtype), None, 1,
                              (kh - 1 - padding[0], kw - 1 - padding[1]), 1, conv.groups)
        else:
            grad_x = torch.ops.aten.convolution_backward(
                grad, x.to(grad.dtype), weight.to(grad.dtype), None, list(conv.stride), list(padding), [1, 1],
                False, [0, 0], conv.groups, [True, False, False])[0]
        return grad_x, None, None


@functools.lru_cache(maxsize=None)
def _onednn_bf16() -> bool:
    """Whether oneDNN computes bfloat16 convolutions on this CPU (it refuses without AVX-512 BW/VL/DQ or
    AVX-NE-CONVERT); elsewhere a bfloat16 convolution takes PyTorch's own (slower) path."""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:
        return False


_CLAMPS: dict[type, Callable[[nn.Module], tuple[float, float]]] = {
    nn.ReLU: lambda m: (0.0, math.inf),
    nn.ReLU6: lambda m: (0.0, 6.0),
    nn.Hardtanh: lambda m: (float(m.min_val), float(m.max_val)),
}


def _clamp_of(module: nn.Module) -> tuple[float, float] | None:
    """The clamp an activation module computes, or None if it is not a plain clamp."""
    if isinstance(module, nn.Sequential) and len(module) == 1:
        module = module[0]
    for kind, clamp in _CLAMPS.items():
        if type(module) is kind or (kind is nn.Hardtanh and isinstance(module, nn.Hardtanh)):
            return clamp(module)
    return None


def _is_tf_same(conv: nn.Module) -> bool:
    """Ours (:mod:`.lite0_net`) or timm's (a user's own timm network)."""
    return type(conv) is Conv2dSame or (type(conv).__name__ == "Conv2dSame" and type(conv).__module__.startswith("timm."))


def _fusable(conv: nn.Module) -> bool:
    """A 2-d convolution FusedConv2d computes exactly: odd kernel, no dilation, dense or depthwise."""
    if not (type(conv) is nn.Conv2d or _is_tf_same(conv)):
        return False
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        return False
    kh, kw = conv.kernel_size
    if not (conv.dilation == (1, 1) and kh % 2 == 1 and kw % 2 == 1 and conv.stride in ((1, 1), (2, 2))):
        return False
    if not (conv.groups == 1 or conv.groups == conv.in_channels == conv.out_channels):
        return False
    # a plain stride-1 convolution must pad to keep the size ('same'); strided ones pad as they like
    return _is_tf_same(conv) or conv.stride != (1, 1) or conv.padding == (kh // 2, kw // 2)


def fuse_convolutions(net: nn.Module, *, probe_size: int = 96, tolerance: float = 1e-4) -> tuple[nn.Module, int]:
    """``net`` with stride-1 convolutions as :class:`FusedConv2d`, or ``net`` itself if that changes it.

    A clamp (ReLU, ReLU6, Hardtanh) declared right after a convolution is fused into
    it; since declaration order need not be call order, the result is checked against
    the original on a probe input, as for batch-norm folding. Returns the network to
    use and the number of convolutions replaced.
    """
    if not any(_fusable(m) for m in net.modules()):
        return net, 0
    fused = copy.deepcopy(net).eval()
    replaced = 0
    for parent in list(fused.modules()):
        names = list(parent._modules)
        for i, name in enumerate(names):
            conv = parent._modules[name]
            if not _fusable(conv):
                continue
            fusion = Fusion()
            nxt = names[i + 1] if i + 1 < len(names) else None
            clamp = _clamp_of(parent._modules[nxt]) if nxt is not None else None
            parent._modules[name] = FusedConv2d(conv, clamp, fusion, tf_same=_is_tf_same(conv))
            if clamp is not None:
                parent._modules[nxt] = _ActSlot(clamp, fusion)
            replaced += 1
    error = _relative_error(net, fused, probe_size)
    if error > tolerance:
        log.warning("convolution fusion changed the outputs (relative error %.2g); left unfused", error)
        return net, 0
    return fused, replaced
