"""Live: a camera's frames stylised or dreamed one after another, steadily, as fast as they come.

A :class:`LiveStyle` paints each frame with a feed-forward network (Magenta's arbitrary network and a
painting's embedding, or a network of built-in or trained styles and one of its styles); a
:class:`LiveDream` takes a step or two of gradient ascent per frame, starting from the previous dream
carried along the camera's optical flow, so patterns grow while the scene moves. Both work at a
working size (the long side, default 320 px) and take and give ``H,W,3`` uint8 frames.

Steadiness: a feed-forward network paints each frame on its own, so its strokes change from frame to
frame even where nothing moves (flicker). :class:`Steady` blends each new output with the previous
output moved along the optical flow, wherever the flow explains the new frame, as ``stylize clip.mp4
--flow`` does (:func:`~inceptionism.animate.loop.flow_reliability`).

Strength below 1 blends toward the frame's own style (Ghiasi et al.'s interpolation for the
arbitrary network; the photo as one more style of a fine-tuned one); the frame's own embedding is
measured again every :data:`REFRESH_S` seconds, not every frame (it costs a pass of the style
predictor).

:class:`Recorder` keeps a session's output frames (JPEG-compressed, bounded) and writes them as an MP4
at the rate they came.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from inceptionism.animate.loop import RELIABILITY_TOLERANCE, move
from inceptionism.configs import check_strength
from inceptionism.errors import ConfigError, first_line

#: seconds between two measures of the frame's own style (strength below 1)
REFRESH_S = 1.0
#: the long side frames are worked at by default (the benchmark's 320x240)
LIVE_SIDE = 320


def working_size(h: int, w: int, side: int) -> tuple[int, int]:
    """``h, w`` scaled so that the long side is ``side`` (never up), each a multiple of 4."""
    scale = min(1.0, side / max(h, w))
    return max(4, round(h * scale / 4) * 4), max(4, round(w * scale / 4) * 4)


def to_tensor(frame: np.ndarray, size: tuple[int, int] | None = None) -> torch.Tensor:
    """An ``H,W,3`` uint8 frame as a ``1,3,h,w`` float tensor in [0, 1], resized to ``size`` when given."""
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    x = torch.from_numpy(np.array(frame[..., :3])).permute(2, 0, 1)[None].float() / 255.0
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return x.contiguous()  # (one memory layout whatever the size: a compiled network is compiled for one)


def to_frame(image: torch.Tensor) -> np.ndarray:
    return (image[0].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)


class LiveFlow:
    """Optical flow fast enough for every frame: OpenCV's DIS at its ultrafast preset (under a millisecond
    at 320x240 here, against 19 ms for the Farneback flow that ``video --flow`` uses), with the same
    meaning: where each pixel of ``frame`` came from in ``previous_frame`` (``H,W,2``)."""

    def __init__(self) -> None:
        import cv2

        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)

    def __call__(self, previous_frame: np.ndarray, frame: np.ndarray) -> np.ndarray:
        import cv2

        return self.dis.calc(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.cvtColor(previous_frame, cv2.COLOR_RGB2GRAY),
                             None)


class Steady:
    """Each output blended with the previous output moved along the optical flow (``blend`` at most, where
    the flow explains the frame); ``blend`` 0 leaves outputs as they are.

    The same blend as :func:`~inceptionism.animate.loop.move` and
    :func:`~inceptionism.animate.loop.flow_reliability` compute for ``stylize --flow``, done with OpenCV's
    own kernels for a frame every few tens of milliseconds: one fixed-point map serves both moves, the
    reliability comes from a table of the (rounded) mean RGB difference, and ``cv2.blendLinear`` mixes
    (2.5 ms a 320x240 frame here, against 5 ms in float32 NumPy; the same picture but for rounding: the maps
    are fixed-point, 1/32 px).
    """

    def __init__(self, blend: float = 0.5, *, tolerance: float = RELIABILITY_TOLERANCE):
        if not 0.0 <= blend < 1.0:
            raise ConfigError(f"the steadiness blend must be in [0, 1), got {blend}")
        self.blend = blend
        self.flow = LiveFlow()
        self.frame: np.ndarray | None = None
        self.out: np.ndarray | None = None
        #: the blend weight for each mean RGB difference 0-255 (flow_reliability's ramp, times ``blend``)
        self.weights = (blend * np.clip(1.0 - np.arange(256, dtype=np.float32) / tolerance, 0.0, 1.0)).astype(np.float32)
        self._grid: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, frame: np.ndarray, out: np.ndarray) -> np.ndarray:
        import cv2

        if self.blend > 0 and self.frame is not None and self.out is not None and self.frame.shape == frame.shape \
                and self.out.shape == out.shape:
            flow = self.flow(self.frame, frame)
            h, w = flow.shape[:2]
            if self._grid is None or self._grid[0].shape != (h, w):
                self._grid = tuple(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
            maps = cv2.convertMaps(self._grid[0] + flow[..., 0], self._grid[1] + flow[..., 1], cv2.CV_16SC2)
            carried = cv2.remap(self.out, *maps, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            moved = cv2.remap(self.frame, *maps, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            error = cv2.transform(cv2.absdiff(moved, frame), np.full((1, 3), 1 / 3, np.float32))
            weight = self.weights[error]
            out = cv2.blendLinear(np.ascontiguousarray(out), carried, 1.0 - weight, weight)
        self.frame, self.out = frame, out
        return out

    def reset(self) -> None:
        self.frame = self.out = None


class Accelerated:
    """A style network's transformer, compiled by ``torch.compile`` in a thread of its own (most of a minute
    on a CPU, once per frame size) and used once ready; until then, the same transformer in eager mode.

    For a stream of thousands of frames the minute pays (Magenta's transformer at 320x240 on two cores:
    32 ms a frame compiled, 61 eager; ``python -m benchmarks.live``); for one picture it does not, which
    is why ``stylize`` does not compile. At most :attr:`MAX_SIZES` frame sizes are compiled.
    """

    MAX_SIZES = 3

    def __init__(self, transformer: torch.nn.Module):
        import threading

        self.eager = transformer
        self.compiled: dict[tuple[int, int], Any] = {}
        self.pending: set[tuple[int, int]] = set()
        self.lock = threading.Lock()
        self.events: dict[tuple[int, int], Any] = {}
        #: seconds each size took to compile and warm up
        self.took: dict[tuple[int, int], float] = {}

    def __call__(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        size = (int(x.shape[-2]), int(x.shape[-1]))
        # (a graph is compiled for one autocast state: the warm-up runs in the caller's)
        if torch.is_autocast_enabled(x.device.type):
            size = (*size, str(torch.get_autocast_dtype(x.device.type)))  # type: ignore[assignment]
        fn = self.compiled.get(size)
        if fn is None:
            self.start(size, params)
            return self.eager(x, params)
        try:
            return fn(x, params)
        except Exception as exc:  # noqa: BLE001 - a compiled graph that fails: the eager one from now on
            import logging

            logging.getLogger(__name__).warning("the compiled style network failed (%s): it runs uncompiled",
                                                first_line(exc))
            self.compiled[size] = self.eager
            return self.eager(x, params)

    def start(self, size: tuple[int, int], params: dict[str, torch.Tensor]) -> None:
        import threading

        with self.lock:
            if size in self.pending or size in self.compiled or len(self.compiled) + len(self.pending) >= self.MAX_SIZES:
                return
            self.pending.add(size)
            self.events[size] = threading.Event()
        example = {k: v.detach().clone() for k, v in params.items()}
        device = next(self.eager.parameters()).device

        def work() -> None:
            import logging

            started = time.perf_counter()
            # (torch says "No CUDA runtime is found" while it builds the CPU kernels: not news on a CPU)
            logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
            try:
                fn = torch.compile(self.eager, dynamic=False)
                dtype = getattr(torch, size[2].removeprefix("torch.")) if len(size) > 2 else None
                with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    fn(torch.rand(1, 3, *size[:2], device=device), example)
                self.compiled[size] = fn
                self.took[size] = time.perf_counter() - started
            except Exception as exc:  # noqa: BLE001 - no compiler here, say: the eager transformer goes on
                logging.getLogger(__name__).warning("compiling the style network failed (%s): it runs uncompiled",
                                                    first_line(exc))
            finally:
                with self.lock:
                    self.pending.discard(size)
                self.events[size].set()

        threading.Thread(target=work, daemon=True, name=f"compile-{size[1]}x{size[0]}").start()  # type: ignore[misc]

    def wait(self, size: tuple[int, int], timeout: float | None = None) -> bool:
        """Wait for ``size``'s compiled transformer (started by a first call); whether it is ready."""
        event = self.events.get(size)
        if event is not None:
            event.wait(timeout)
        return size in self.compiled


_ACCELERATED: dict[int, Accelerated] = {}


def accelerated(transformer: torch.nn.Module) -> Accelerated:
    """The one :class:`Accelerated` of ``transformer`` (shared by every session that paints with it)."""
    found = _ACCELERATED.get(id(transformer))
    if found is None or found.eager is not transformer:
        found = _ACCELERATED[id(transformer)] = Accelerated(transformer)
    return found


class LiveStyle:
    """Frames painted by a feed-forward network: ``net(image, mix)`` (Magenta's arbitrary network with a
    painting's embedding as the mix, or a style network with a one-hot mix), steadied by :class:`Steady`."""

    def __init__(self, net: Any, mix: torch.Tensor, *, strength: float = 1.0, steady: float = 0.5,
                 side: int = LIVE_SIDE, autocast: torch.dtype | None = None, compile: bool = False):
        check_strength(strength)
        self.net, self.mix, self.strength = net, mix, strength
        self.side, self.autocast = side, autocast
        self.steady = Steady(steady)
        self.device = next(net.parameters()).device
        from inceptionism.style import magenta

        #: our own networks (train-style --init scratch) have no embedding to move: their strength is a fade
        self.fades = not isinstance(net, (magenta.ArbitraryStyleNetwork, magenta.FineTunedStyleNetwork))
        #: Magenta's networks: the transformer (compiled in the background with ``compile``) and its parameters
        self.transformer = (accelerated(net.transformer) if compile else net.transformer) if not self.fades else None
        self._params: tuple[Any, torch.Tensor, dict[str, torch.Tensor]] | None = None
        self._toward: tuple[float, Any, torch.Tensor] | None = None  # (when, net, mix) for strength < 1

    def _painter(self, x: torch.Tensor) -> tuple[Any, torch.Tensor]:
        from inceptionism.style import magenta

        if self.strength >= 1.0:
            return self.net, self.mix
        now = time.monotonic()
        if self._toward is None or now - self._toward[0] > REFRESH_S:
            if isinstance(self.net, magenta.ArbitraryStyleNetwork):
                painter = (self.net, magenta.with_strength(self.net, self.mix, x, self.strength))
            elif isinstance(self.net, magenta.FineTunedStyleNetwork):
                painter = magenta.toward_photo(self.net, self.mix, x, self.strength)
            else:  # our own networks: a fade into the frame, after the network
                painter = (self.net, self.mix)
            self._toward = (now, *painter)
        return self._toward[1], self._toward[2]

    def _style_params(self, net: Any, mix: torch.Tensor) -> dict[str, torch.Tensor]:
        """The transformer's norm parameters for ``mix`` (worked out once per mix, not per frame)."""
        from inceptionism.style import magenta

        if self._params is None or self._params[0] is not net or self._params[1] is not mix:
            mix_d = mix.to(self.device)
            if isinstance(net, magenta.ArbitraryStyleNetwork):
                params = net.predictor.params(mix_d)
            else:
                params = net.style_params(mix_d.to(net.embeddings.dtype) @ net.embeddings)
            self._params = (net, mix, params)
        return self._params[2]

    @torch.no_grad()
    def __call__(self, frame: np.ndarray) -> np.ndarray:
        from inceptionism.precision import autocast

        size = working_size(frame.shape[0], frame.shape[1], self.side)
        x = to_tensor(frame, size).to(self.device)
        net, mix = self._painter(x)
        with autocast(self.autocast, self.device):
            if self.transformer is None:
                out = net(x, mix.to(self.device)).float()
            else:
                out = self.transformer(x, self._style_params(net, mix)).float()
        if self.strength < 1.0 and self.fades:
            out = torch.lerp(x, out, self.strength)
        small = to_frame(to_tensor(frame, size)) if size != tuple(frame.shape[:2]) else frame
        return self.steady(small, to_frame(out))


@dataclass
class LiveDream:
    """Frames dreamed a step or two at a time: each starts from the previous dream moved along the optical
    flow, ``grow`` of it mixed with the new frame, so that patterns keep growing while the scene moves."""

    network: Any
    objective: Any
    steps: int = 2
    step_size: float = 0.02
    grow: float = 0.8
    side: int = LIVE_SIDE
    frame: np.ndarray | None = field(default=None, init=False)
    dreamt: np.ndarray | None = field(default=None, init=False)
    flow: LiveFlow = field(default_factory=LiveFlow, init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= 20:
            raise ConfigError(f"dream steps per frame must be 1 to 20, got {self.steps}")
        if not 0.0 <= self.grow < 1.0:
            raise ConfigError(f"grow must be in [0, 1), got {self.grow}")

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        from inceptionism.configs import DreamConfig
        from inceptionism.dream import dream

        h, w = working_size(frame.shape[0], frame.shape[1], self.side)
        small = to_frame(to_tensor(frame, (h, w))) if (h, w) != tuple(frame.shape[:2]) else frame
        start = small
        if self.dreamt is not None and self.frame is not None and self.dreamt.shape == small.shape:
            carried = move(self.dreamt, self.flow(self.frame, small))
            start = ((1 - self.grow) * small.astype(np.float32) + self.grow * carried.astype(np.float32)
                     + 0.5).astype(np.uint8)
        config = DreamConfig(octaves=1, steps=self.steps, step_size=self.step_size, jitter=8)
        result = dream(self.network, to_tensor(start), self.objective, config)
        self.frame, self.dreamt = small, to_frame(result.image)
        return self.dreamt

    def reset(self) -> None:
        self.frame = self.dreamt = None


class Recorder:
    """A session's output frames, kept as JPEG (at most ``max_frames``, the oldest dropped), with the times
    they came, written as an MP4 at the rate they came."""

    def __init__(self, max_frames: int = 1200, quality: int = 90):
        self.max_frames, self.quality = max_frames, quality
        self.frames: list[tuple[float, bytes]] = []
        self.dropped = 0

    def add(self, frame: np.ndarray) -> None:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, "JPEG", quality=self.quality)
        self.frames.append((time.monotonic(), buffer.getvalue()))
        if len(self.frames) > self.max_frames:
            self.frames.pop(0)
            self.dropped += 1

    @property
    def fps(self) -> float:
        if len(self.frames) < 2:
            return 10.0
        span = self.frames[-1][0] - self.frames[0][0]
        return float(min(60.0, max(1.0, (len(self.frames) - 1) / span))) if span > 0 else 10.0

    def write(self, path: Any, metadata: dict[str, Any] | None = None) -> int:
        """The frames as a movie (all of one size: the first frame's); returns how many."""
        from PIL import Image

        from inceptionism.io.video import write_video

        if not self.frames:
            raise ConfigError("nothing was recorded: press Record while the camera is live")
        size = Image.open(io.BytesIO(self.frames[0][1])).size
        fps = self.fps

        def frames() -> Any:
            for _, data in self.frames:
                image = Image.open(io.BytesIO(data)).convert("RGB")
                if image.size != size:
                    image = image.resize(size)
                yield np.asarray(image)

        write_video(frames(), path, fps, metadata=metadata)
        return len(self.frames)
