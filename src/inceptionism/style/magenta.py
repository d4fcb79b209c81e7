"""Magenta's arbitrary-style network (Ghiasi et al. 2017) and the 26-style demo network, ported to PyTorch.

**Arbitrary stylisation.** A style predictor (MobileNet-v2 up to ``layer_19``,
averaged, then a 1x1 convolution to a 100-number embedding: ``mobilenet_conv/Conv``)
turns any painting into an embedding; ``style_params`` maps the embedding to the
scale (``gamma``, ``StyleNorm/Conv_1``) and shift (``beta``, ``StyleNorm/Conv``) of
each of the transformer's 13 conditional instance norms; the transformer
(``transformer/contract/conv1..3`` with batch norm, ``residual/residual1..5``,
``expand/conv1..3``: Magenta's ``nza_model.transform``) paints the photo. These are
the int8 networks that TF Hub publishes (``magenta/arbitrary-image-stylization-v1-256``,
the mobile variant: width multiplier 0.25, so 8/16/32 channels). Module paths are
Magenta's scopes with ``/`` read as ``.`` (``transformer.residual.residual1.conv1``).

**The 26 styles** of TensorFlow's Android demo (Dumoulin et al.'s conditional
instance norm; names as in the ONNX file that carries it: ``contract.0..2``,
``res.0..5``, ``expand.0..2``): one network, one scale and shift per style, mixed by
the style weights.

Departures from the originals, all measured by ``tests/test_magenta.py`` against the
ONNX files: the weights are the int8 ones dequantised exactly, but activations stay in
float (the originals quantise every activation to int8); any input size works (the
originals are fixed at 384 and 256 px): the content is reflection-padded to a multiple
of 4 and cropped back, the predictor's stride-2 convolutions use TensorFlow's "SAME"
padding for the size given; batch norm is folded into the convolutions, as in the
published files.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from inceptionism.configs import check_strength
from inceptionism.errors import ConfigError, ModelError
from inceptionism.models.lite0_net import Conv2dSame
from inceptionism.parsing import style_weights

#: the transformer's conditionally normalised layers, in order, with their depths (Magenta's scope names)
NORMS = (*(f"residual/residual{i}/conv{j}" for i in range(1, 6) for j in (1, 2)),
         "expand/conv1/conv", "expand/conv2/conv", "expand/conv3/conv")
EMBEDDING = 100
EPS = 1e-5
#: the size the predictor sees a painting at (its shorter side), as in Magenta's training (256 px)
STYLE_SIZE = 256


def _child(root: nn.Module, path: str) -> nn.Module:
    """The module at ``path`` ('a/b/c') below ``root``, made as empty containers where missing."""
    node = root
    for part in path.split("/"):
        if part not in node._modules:
            node.add_module(part, nn.Module())
        node = node._modules[part]  # type: ignore[assignment]
    return node


def instance_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                  stats: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Instance norm with per-sample ``B,C`` scale and shift (eps 1e-5, statistics in float32).

    ``stats``: (mean, variance) to use instead of ``x``'s own (tiles share the whole image's).
    """
    xf = x.float()
    if stats is None:
        stats = (xf.mean(dim=(2, 3), keepdim=True), xf.var(dim=(2, 3), keepdim=True, unbiased=False))
    mean, var = stats
    scale = gamma.float()[:, :, None, None] * torch.rsqrt(var + EPS)
    return (xf * scale + (beta.float()[:, :, None, None] - mean * scale)).to(x.dtype)


class SharedStatistics(nn.Module):
    """A norm whose statistics can be recorded on one input and used for others (tiles of one image).

    ``mode``: None (each input its own statistics), "record" (keep this input's) or
    "fixed" (use the kept ones); :func:`inceptionism.style.model_file.stylize_image`
    sets it. ``stats`` maps a layer's name to its (mean, variance).
    """

    def __init__(self) -> None:
        super().__init__()
        self.mode: str | None = None
        self.stats: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None

    def normalise(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, key: str = "") -> torch.Tensor:
        if self.mode is None:
            return instance_norm(x, gamma, beta)
        if self.mode == "record":
            xf = x.float()
            self.stats = {**(self.stats or {}),
                          key: (xf.mean(dim=(2, 3), keepdim=True), xf.var(dim=(2, 3), keepdim=True, unbiased=False))}
        assert self.stats is not None
        return instance_norm(x, gamma, beta, self.stats[key])


class StyleNorm(SharedStatistics):
    """Magenta's ``conditional_style_norm``: instance norm whose gamma and beta come from the style embedding."""

    def forward(self, x: torch.Tensor, params: dict[str, torch.Tensor], name: str) -> torch.Tensor:
        return self.normalise(x, params[f"{name}/gamma"], params[f"{name}/beta"], name)


class MirrorConv(nn.Module):
    """Magenta's ``conv2d``: reflection padding of kernel // 2, a 'VALID' convolution (with its bias)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1):
        super().__init__()
        self.pad = kernel // 2
        self.stride = stride
        self.weight = nn.Parameter(torch.zeros(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.pad,) * 4, mode="reflect")
        return F.conv2d(x, self.weight, self.bias, self.stride)


class Transformer(nn.Module):
    """``nza_model.transform`` at width 0.25: ``forward(image, params)`` with ``params`` from :class:`StylePredictor`."""

    def __init__(self, alpha: float = 0.25):
        super().__init__()
        c1, c2, c3 = int(32 * alpha), int(64 * alpha), int(128 * alpha)
        self.depths = {**{n: c3 for n in NORMS[:10]}, "expand/conv1/conv": c2, "expand/conv2/conv": c1,
                       "expand/conv3/conv": 3}
        for name, cin, cout, k, s in (("contract/conv1", 3, c1, 9, 1), ("contract/conv2", c1, c2, 3, 2),
                                      ("contract/conv3", c2, c3, 3, 2)):
            _child(self, "/".join(name.split("/")[:-1])).add_module(name.split("/")[-1], MirrorConv(cin, cout, k, s))
        for name in NORMS[:10]:
            parent, leaf = name.rsplit("/", 1)
            _child(self, parent).add_module(leaf, MirrorConv(c3, c3, 3))
        for name, cin, cout, k in (("expand/conv1", c3, c2, 3), ("expand/conv2", c2, c1, 3), ("expand/conv3", c1, 3, 9)):
            _child(self, name).add_module("conv", MirrorConv(cin, cout, k))
        self.norm = StyleNorm()

    def layer(self, name: str) -> MirrorConv:
        return _child(self, name)  # type: ignore[return-value]

    def forward(self, image: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        h, w = image.shape[-2:]
        # two stride-2 steps: reflect-pad to a multiple of 4, crop after (always padded, by 0 where nothing is needed)
        x = F.pad(image, (0, (-w) % 4, 0, (-h) % 4), mode="reflect")
        for name in ("contract/conv1", "contract/conv2", "contract/conv3"):
            x = F.relu(self.layer(name)(x))  # batch norm folded into the convolution
        for i in range(1, 6):
            r = f"residual/residual{i}"
            y = F.relu(self.norm(self.layer(f"{r}/conv1")(x), params, f"{r}/conv1"))
            x = x + self.norm(self.layer(f"{r}/conv2")(y), params, f"{r}/conv2")
        for name in ("expand/conv1/conv", "expand/conv2/conv"):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = F.relu(self.norm(self.layer(name)(x), params, name))
        x = self.norm(self.layer("expand/conv3/conv")(x), params, "expand/conv3/conv")
        return torch.sigmoid(x)[..., :h, :w]


#: MobileNet-v2's inverted residual blocks: (expansion, output channels, repeats, first stride)
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    if stride == 1:
        return nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups)
    return Conv2dSame(cin, cout, kernel, stride=stride, groups=groups)  # TensorFlow's 'SAME'


class ExpandedConv(nn.Module):
    """MobileNet-v2's ``expanded_conv``: 1x1 expand (ReLU6), depthwise 3x3 (ReLU6), 1x1 project; batch norm folded."""

    def __init__(self, cin: int, cout: int, expansion: int, stride: int):
        super().__init__()
        mid = cin * expansion
        if expansion != 1:
            self.expand = _conv(cin, mid, 1)
        self.depthwise = _conv(mid, mid, 3, stride, groups=mid)
        self.project = _conv(mid, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self.expand(x)) if "expand" in self._modules else x
        y = self.project(F.relu6(self.depthwise(y)))
        return x + y if self.residual else y


class StyleParams(nn.Module):
    """Magenta's ``style_params``: a 100-number embedding to each norm's ``gamma`` (``Conv_1``) and ``beta`` (``Conv``)."""

    def __init__(self, depths: dict[str, int]):
        super().__init__()
        self.norm_depths = dict(depths)
        for name, depth in self.norm_depths.items():
            norm = _child(self, f"transformer/{name}/StyleNorm")
            norm.add_module("Conv", nn.Conv2d(EMBEDDING, depth, 1))  # beta
            norm.add_module("Conv_1", nn.Conv2d(EMBEDDING, depth, 1))  # gamma

    def forward(self, embedding: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each norm's ``NAME/gamma`` and ``NAME/beta`` (``B,C``) for ``B,100`` embeddings."""
        e = embedding[:, :, None, None]
        out = {}
        for name in self.norm_depths:
            norm = _child(self, f"transformer/{name}/StyleNorm")
            out[f"{name}/beta"] = norm.Conv(e).flatten(1)
            out[f"{name}/gamma"] = norm.Conv_1(e).flatten(1)
        return out


class StylePredictor(nn.Module):
    """A painting (``B,3,H,W`` in [0, 1]) to its 100-number embedding, and the embedding to the norms' parameters."""

    def __init__(self, depths: dict[str, int]):
        super().__init__()
        net = _child(self, "MobilenetV2")
        net.add_module("Conv", _conv(3, 32, 3, 2))
        cin, index = 32, 0
        for expansion, cout, repeats, stride in MOBILENET_V2:
            for i in range(repeats):
                name = "expanded_conv" if index == 0 else f"expanded_conv_{index}"
                net.add_module(name, ExpandedConv(cin, cout, expansion, stride if i == 0 else 1))
                cin, index = cout, index + 1
        net.add_module("Conv_1", _conv(cin, 1280, 1))
        _child(self, "mobilenet_conv").add_module("Conv", nn.Conv2d(1280, EMBEDDING, 1))
        self.style_params = StyleParams(depths)

    def embed(self, style: torch.Tensor) -> torch.Tensor:
        """``B,100`` style embeddings (the bottleneck Magenta calls ``mobilenet_conv/Conv/BiasAdd``)."""
        x = style
        for name, module in _child(self, "MobilenetV2").named_children():
            x = F.relu6(module(x)) if name in ("Conv", "Conv_1") else module(x)
        x = x.mean(dim=(2, 3), keepdim=True)
        return _child(self, "mobilenet_conv").Conv(x).flatten(1)

    def params(self, embedding: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each norm's ``NAME/gamma`` and ``NAME/beta`` (``B,C``) for ``B,100`` embeddings."""
        return self.style_params(embedding)


class ArbitraryStyleNetwork(nn.Module):
    """The whole arbitrary-stylisation model: ``forward(content, embedding)``; :meth:`embed` a painting first."""

    def __init__(self) -> None:
        super().__init__()
        self.transformer = Transformer()
        self.predictor = StylePredictor(self.transformer.depths)

    def embed(self, style: torch.Tensor) -> torch.Tensor:
        return self.predictor.embed(style)

    def forward(self, content: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.transformer(content, self.predictor.params(embedding.expand(content.shape[0], -1)))


class FineTunedStyleNetwork(nn.Module):
    """N styles learned from Magenta's arbitrary network (``train-style --init magenta``).

    Magenta's transformer and style-parameter layers, and one learned 100-number
    embedding per painting (started from the predictor's embedding of it); a mix of
    styles is a mix of embeddings. ``forward(image, mix)`` as :class:`~.network.StyleNetwork`'s.
    """

    def __init__(self, styles: int):
        super().__init__()
        self.styles = styles
        self.transformer = Transformer()
        self.style_params = StyleParams(self.transformer.depths)
        self.embeddings = nn.Parameter(torch.zeros(styles, EMBEDDING))

    @classmethod
    def from_arbitrary(cls, arbitrary: ArbitraryStyleNetwork, paintings: list[torch.Tensor], *,
                       size: int = STYLE_SIZE) -> "FineTunedStyleNetwork":
        net = cls(len(paintings)).to(next(arbitrary.parameters()).device)
        net.transformer.load_state_dict(arbitrary.transformer.state_dict())
        net.style_params.load_state_dict(arbitrary.predictor.style_params.state_dict())
        with torch.no_grad():
            net.embeddings.copy_(torch.cat([embed_styles(arbitrary, [p], size=size) for p in paintings]))
        return net

    def forward(self, image: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        return self.transformer(image, self.style_params(mix.to(self.embeddings.dtype) @ self.embeddings))


# -- the 26 styles of TensorFlow's Android demo -----------------------------------------
class MixedNorm(SharedStatistics):
    """Conditional instance norm: N styles' scales and shifts, mixed by the weights given."""

    def __init__(self, channels: int, styles: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(styles, channels))
        self.beta = nn.Parameter(torch.zeros(styles, channels))

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        return self.normalise(x, mix.to(self.gamma.dtype) @ self.gamma, mix.to(self.beta.dtype) @ self.beta)


class DemoLayer(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, styles: int, *, stride: int = 1, upsample: bool = False):
        super().__init__()
        self.stride, self.upsample, self.pad = stride, upsample, kernel // 2
        self.w = nn.Parameter(torch.zeros(cout, cin, kernel, kernel))
        self.norm = MixedNorm(cout, styles)

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = F.conv2d(F.pad(x, (self.pad,) * 4, mode="reflect"), self.w, None, self.stride)
        return self.norm(x, mix)


class MultiStyleNetwork(nn.Module):
    """TensorFlow's Android demo network: ``forward(image, mix)`` with ``mix`` ``B,26`` weights that sum to 1."""

    def __init__(self, styles: int = 26, residual_blocks: int = 6):
        super().__init__()
        self.styles = styles
        self.contract = nn.ModuleList([DemoLayer(3, 32, 9, styles), DemoLayer(32, 32, 3, styles, stride=2),
                                       DemoLayer(32, 32, 3, styles, stride=2)])
        self.res = nn.ModuleList([nn.ModuleList([DemoLayer(32, 32, 3, styles), DemoLayer(32, 32, 3, styles)])
                                  for _ in range(residual_blocks)])
        self.expand = nn.ModuleList([DemoLayer(32, 8, 3, styles, upsample=True),
                                     DemoLayer(8, 4, 3, styles, upsample=True), DemoLayer(4, 3, 9, styles)])

    def forward(self, image: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        x = F.pad(image, (0, (-w) % 4, 0, (-h) % 4), mode="reflect")
        for layer in self.contract:
            x = F.relu(layer(x, mix))
        for a, b in self.res:
            x = x + b(F.relu(a(x, mix)), mix)
        x = F.relu(self.expand[0](x, mix))
        x = F.relu(self.expand[1](x, mix))
        return torch.sigmoid(self.expand[2](x, mix))[..., :h, :w]


# -- the files that ship ----------------------------------------------------------------
ARBITRARY_FILE, MULTISTYLE_FILE = "arbitrary.safetensors", "multistyle26.safetensors"
#: the demo network's styles (unnamed upstream: "demo 0" ... "demo 25")
DEMO_STYLES = 26
def weights_path(name: str) -> Path:
    path = Path(str(resources.files("inceptionism.style").joinpath("weights", name)))
    if not path.is_file():
        raise ModelError(f"{path} is missing from this installation: reinstall inceptionism "
                         "(or rebuild it with tools/convert_magenta.py)")
    return path


def _load(net: nn.Module, name: str, device: torch.device | str) -> nn.Module:
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(str(weights_path(name))).items()}
    net.load_state_dict(state)
    return net.eval().requires_grad_(False).to(device)


@functools.lru_cache(maxsize=4)
def _shipped(kind: str, device: str) -> nn.Module:
    if kind == "arbitrary":
        return _load(ArbitraryStyleNetwork(), ARBITRARY_FILE, device)
    return _load(MultiStyleNetwork(), MULTISTYLE_FILE, device)


def load_arbitrary(device: torch.device | str = "cpu") -> ArbitraryStyleNetwork:
    """Magenta's arbitrary-stylisation network, as it ships (no download; read once per process and device)."""
    return _shipped("arbitrary", str(torch.device(device)))  # type: ignore[return-value]


def load_multistyle(device: torch.device | str = "cpu") -> MultiStyleNetwork:
    """The 26-style network of TensorFlow's Android demo, as it ships (read once per process and device)."""
    return _shipped("multistyle", str(torch.device(device)))  # type: ignore[return-value]


def seen_at(painting: torch.Tensor, size: int = STYLE_SIZE) -> torch.Tensor:
    """``painting`` scaled so that its shorter side is ``size`` (aspect kept, nothing cropped)."""
    h, w = painting.shape[-2:]
    scale = size / min(h, w)
    target = (max(1, round(h * scale)), max(1, round(w * scale)))
    return F.interpolate(painting, size=target, mode="bilinear", align_corners=False, antialias=scale < 1)


#: the smallest side of a painting that can show a style
MIN_STYLE_SIDE = 16


def check_paintings(paintings: list[torch.Tensor], names: list[str]) -> None:
    """Each painting large enough to show a style; :class:`ConfigError` naming the first that is not."""
    for name, painting in zip(names, paintings):
        if min(painting.shape[-2:]) < MIN_STYLE_SIDE:
            raise ConfigError(f"{name}: {painting.shape[-1]}x{painting.shape[-2]} px is too small to show a style "
                              f"({MIN_STYLE_SIDE} px or more a side)")


@torch.no_grad()
def embed_styles(net: ArbitraryStyleNetwork, paintings: list[torch.Tensor], weights: list[float] | None = None, *,
                 size: int = STYLE_SIZE) -> torch.Tensor:
    """The ``1,100`` embedding of one painting, or the weighted mean of several paintings' embeddings."""
    weights = style_weights(weights, len(paintings))
    p = next(net.parameters())
    total = torch.zeros(1, EMBEDDING, device=p.device)
    for painting, w in zip(paintings, weights):
        total += (w / sum(weights)) * net.embed(seen_at(painting.to(p.device, p.dtype), size)).float()
    return total


def with_strength(net: ArbitraryStyleNetwork, embedding: torch.Tensor, content: torch.Tensor, strength: float, *,
                  size: int = STYLE_SIZE) -> torch.Tensor:
    """Ghiasi et al.'s interpolation: ``strength`` of the way from the photo's own embedding to the painting's."""
    check_strength(strength)
    if strength == 1.0:
        return embedding
    own = embed_styles(net, [content], size=size)
    return strength * embedding.to(own) + (1.0 - strength) * own


def toward_photo(net: FineTunedStyleNetwork, mix: torch.Tensor, content: torch.Tensor, strength: float, *,
                 size: int = STYLE_SIZE) -> tuple[FineTunedStyleNetwork, torch.Tensor]:
    """A fine-tuned network and mix that paint ``strength`` of the way from the photo's own embedding (by
    the arbitrary network's predictor) to the mix's: the photo's embedding is one more style, mixed in."""
    check_strength(strength)
    p = next(net.parameters())
    own = embed_styles(load_arbitrary(p.device), [content], size=size).to(p)
    out = FineTunedStyleNetwork(net.styles + 1).to(p.device)
    out.transformer, out.style_params = net.transformer, net.style_params
    out.embeddings = nn.Parameter(torch.cat([net.embeddings.detach(), own]), requires_grad=False)
    weights = torch.cat([strength * mix.to(p), torch.full((mix.shape[0], 1), 1.0 - strength).to(p)], dim=1)
    return out.eval(), weights
