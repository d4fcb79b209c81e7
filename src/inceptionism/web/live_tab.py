"""The Live tab: the visitor's camera (Gradio's streaming webcam), each frame stylised with any painting or a
built-in style, or dreamed a step or two at a time, beside it; steadied along the optical flow; recorded to
an MP4 on demand.

Frames are never queued up: the page posts a camera frame every ``STREAM_EVERY`` seconds, and Gradio
keeps only the newest one that came while the last was being painted, so a slow server shows fewer
frames, never older ones. A visitor's stream holds one of ``WebLimits.live_streams`` places in a
``live`` group of its own (apart from the other tabs' one-at-a-time jobs) while it runs: several
visitors share the machine, each at a lower rate, and none waits for another's stream to end unless
all places are taken. Each browser tab has its own painter and recorder (:class:`LiveSession`), rebuilt
when its settings change.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from inceptionism import __version__
from inceptionism.errors import InceptionismError
from inceptionism.models import DEFAULT_MODEL, get_model_spec
from inceptionism.web.app import Services, download_box, examples, load_upload, network, upload

MODES = ("Any painting", "Built-in style", "Dream")
#: the shortest gap between two camera frames sent to the server (seconds): at most 20 a second
STREAM_EVERY = 0.05
#: the longest one visitor's stream runs before the page has to press the camera's button again (seconds)
TIME_LIMIT_S = 1800
#: browser tabs whose live state is kept (the oldest is dropped past this)
MAX_SESSIONS = 32
#: the live sessions of the latest app built in this process (``benchmarks.live`` reads their timings)
SESSIONS: list[dict[str, "LiveSession"]] = [{}]
#: what the page asks of the camera: frames of the size they are painted at (Gradio asks for 1920x1440 by
#: default, which the page would encode and send and the server decode and shrink, every frame)
CAMERA = {"video": {"width": {"ideal": 320}, "height": {"ideal": 240}}}


#: JPEG quality of the pictures sent to the page
JPEG_QUALITY = 85


def _send_inline(image: Any) -> Any:
    """Makes a ``gr.Image`` output send its pictures inside the message that carries them, as ``data:`` URLs.

    A plain ``gr.Image`` output, streaming or not, writes each picture into Gradio's cache (encoded, hashed,
    written) and the page then fetches it with a second request; two visitors whose frames paint alike even
    share a cache file that one rewrites while the other reads it. Inline, a frame costs one JPEG encode.
    (This one component's ``postprocess`` is replaced: a subclass of a Gradio component would make Gradio
    write a ``.pyi`` file beside this module.)
    """
    import base64

    import cv2
    from gradio.data_classes import ImageData

    files = image.postprocess

    def postprocess(value: Any) -> Any:
        if isinstance(value, np.ndarray) and value.ndim == 3 and value.shape[2] == 3 and value.dtype == np.uint8:
            ok, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(value[..., ::-1]),
                                    [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if ok:
                return ImageData(url="data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode("ascii"),
                                 mime_type="image/jpeg")
        return files(value)

    image.postprocess = postprocess
    return image


#: seconds without a picture after which the page says the camera stopped
IDLE_S = 3.0


@dataclass
class LiveSession:
    """One browser tab's painter (rebuilt when its settings change), recorder and frame clock."""

    key: tuple[Any, ...] | None = None
    painter: Any = None
    recorder: Any = None
    recording: bool = False
    times: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    used: float = field(default_factory=time.monotonic)
    #: what Record and Stop said, and when: the status line repeats it for a while (frames keep rewriting it)
    note: tuple[str, float] = ("", 0.0)
    #: whether the page was told that no picture comes any more (the camera stopped)
    idle_said: bool = False
    #: for each picture sent, when its camera frame reached this function (``time.time()``: the benchmark
    #: pairs it with the page's clock, which is this machine's)
    answered: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))

    def said(self, text: str) -> str:
        self.note = (text, time.monotonic())
        return text

    def tick(self, took: float) -> tuple[float, float]:
        """Frames a second over the last few seconds, and the median seconds a frame took here."""
        now = time.monotonic()
        self.times = [t for t in self.times if now - t < 3.0] + [now]
        self.seconds = (self.seconds + [took])[-30:]
        span = self.times[-1] - self.times[0]
        fps = (len(self.times) - 1) / span if span > 0 else 0.0
        return fps, float(np.median(self.seconds))


def _embedding(path: str, s: Services) -> torch.Tensor:
    """The arbitrary network's embedding of the painting in ``path`` (kept by its content's hash)."""
    return _embed(hashlib.sha256(Path(path).read_bytes()).hexdigest(), path, s)


_EMBEDDINGS: dict[str, torch.Tensor] = {}


def _embed(digest: str, path: str, s: Services) -> torch.Tensor:
    from inceptionism.style.instant import painting_embedding

    if digest not in _EMBEDDINGS:
        painting = load_upload(path, s.limits, "painting ").rgb
        _EMBEDDINGS[digest] = painting_embedding([painting], s.device)
        while len(_EMBEDDINGS) > 16:
            _EMBEDDINGS.pop(next(iter(_EMBEDDINGS)))
    return _EMBEDDINGS[digest]


def _painter_for(s: Services, style_model: str | None, style_names: list[str], compile: bool) -> Any:
    """What makes a painter (or a dreamer) for a stream's choice."""
    from inceptionism.animate.live import LiveDream, LiveStyle
    from inceptionism.objectives import build_objective
    from inceptionism.precision import autocast_dtype
    from inceptionism.style.instant import Kind, load_network

    def painter_for(mode: str, painting: str | None, style: str | None, strength: float, layer: str | None,
                    steps: float, steady: bool) -> Any:
        blend = 0.5 if steady else 0.0
        if mode == MODES[0]:
            if not painting:
                raise InceptionismError("upload a painting (or click one) to paint the camera with")
            return LiveStyle(load_network(Kind.PAINTING, None, s.device), _embedding(painting, s),
                             strength=float(strength),
                             steady=blend, autocast=autocast_dtype("auto", s.device), compile=compile)
        if mode == MODES[1]:
            if style_model is None or style not in style_names:
                raise InceptionismError("choose one of the built-in styles")
            from inceptionism.web.style_tab import trained_network

            net, _ = trained_network(style_model, s.device)
            mix = torch.nn.functional.one_hot(torch.tensor([style_names.index(style)]), len(style_names)).float()
            return LiveStyle(net, mix, strength=float(strength), steady=blend,
                             autocast=autocast_dtype("auto", s.device), compile=compile)
        net = network(DEFAULT_MODEL, None, s.device)
        objective, _ = build_objective(net, [layer] if layer else None)
        objective.prepare(net)
        return LiveDream(net, objective, steps=int(steps), grow=0.8 if steady else 0.5)

    return painter_for


def _recording(gr: Any, s: Services, session_of: Any) -> tuple[Any, Any]:
    """The Record and Stop buttons' jobs: frames kept from now on, then written to an MP4."""
    from inceptionism.animate.live import Recorder

    def start_recording(session: str) -> str:
        live = session_of(session)
        with live.lock:
            if not live.times or time.monotonic() - live.times[-1] > 3.0:  # no picture lately: no camera
                return live.said("start the camera first (its own Record button streams it), then record the "
                                 "painted pictures")
            live.recorder = Recorder()
            live.recording = True
        return live.said("recording: the frames from now on, until Stop")

    def stop_recording(session: str) -> tuple[Any, str]:
        live = session_of(session)
        with live.lock:
            live.recording = False
            recorder = live.recorder
            live.recorder = Recorder()
        if not recorder.frames:
            return gr.skip(), live.said("nothing was recorded: press Record while the camera is live")
        job, folder = s.files.new_job()
        path = folder / "live.mp4"
        count = recorder.write(path, metadata={"command": "web live", "version": __version__, "job": job,
                                               "mode": live.key[0] if live.key else None})
        return str(path), live.said(f"recorded {count} frames at {recorder.fps:.1f} frames a second: the MP4 is "
                                    "below")

    return start_recording, stop_recording


def _live_controls(gr: Any, s: Services, style_names: list[str], paintings: list[str], spec: Any) -> SimpleNamespace:
    """The camera, what paints it, and the live picture with its status and recording buttons."""
    from inceptionism.web.dream_tab import layer_choices

    gr.Markdown("Your camera, painted or dreamed as you move. Press the camera's button to start; the picture on "
                "the right follows, as fast as this machine can paint (at most 20 frames a second, 320 px).")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            camera = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="Your camera",
                              elem_id="live-camera", height=300, webcam_options=gr.WebcamOptions(constraints=CAMERA))
            mode = gr.Radio(list(MODES), value=MODES[0], label="Paint with",
                            elem_id="live-mode")
            with gr.Group(visible=True) as painting_box:
                painting = upload(gr, s.limits, label="Painting", elem_id="live-painting", height=160)
                if paintings:
                    examples(gr, painting, paintings, "Paintings: click one", "live-painting-examples")
            with gr.Group(visible=False) as style_box:
                style = gr.Dropdown(style_names, value=style_names[0] if style_names else None,
                                    label="Built-in style", elem_id="live-style")
            strength = gr.Slider(0, 1, value=1.0, step=0.05, label="Strength", elem_id="live-strength")
            with gr.Group(visible=False) as dream_box:
                layer = gr.Dropdown(layer_choices(spec.name), value=spec.default_layers[0], label="Layer to dream",
                                    elem_id="live-layer")
                steps = gr.Slider(1, 4, value=1, step=1, label="Dream steps a frame", elem_id="live-steps")
            steady = gr.Checkbox(value=True, label="Steady: blend with the last picture carried along the motion "
                                 "(less flicker)", elem_id="live-steady")
        with gr.Column(scale=5, elem_classes=["result-column"]):
            output = _send_inline(gr.Image(label="Live", type="numpy", interactive=False, elem_id="live-output",
                                           height=360, format="jpeg", streaming=True))
            status = gr.Textbox(label="Status", interactive=False, elem_id="live-status")
            with gr.Row():
                record = gr.Button("Record the painted pictures", elem_id="live-record")
                stop = gr.Button("Stop and download", elem_id="live-stop")
            movie = download_box(gr, "Recording (MP4)", "live-movie")

    return SimpleNamespace(**{name: value for name, value in locals().items() if name in ('camera', 'mode', 'painting_box', 'painting', 'style_box', 'style', 'strength', 'dream_box', 'layer', 'steps', 'steady', 'output', 'status', 'record', 'stop', 'movie')})


def live_tab(gr: Any, s: Services, style_model: str | None, style_meta: dict[str, Any] | None,
             paintings: list[str], *, compile: bool = True) -> None:
    """``compile``: the style networks are compiled in the background at the first frame of a size
    (:class:`inceptionism.animate.live.Accelerated`), about twice as fast once ready."""
    from inceptionism.animate.live import Recorder

    sessions: dict[str, LiveSession] = {}
    SESSIONS[0] = sessions
    style_names = [st["name"] for st in style_meta["styles"]] if style_meta else []
    spec = get_model_spec(DEFAULT_MODEL)

    def session_of(session: str) -> LiveSession:
        live = sessions.get(session)
        if live is None:
            live = sessions[session] = LiveSession(recorder=Recorder())
            while len(sessions) > MAX_SESSIONS:
                oldest = min(sessions, key=lambda k: sessions[k].used)
                sessions.pop(oldest)
        live.used = time.monotonic()
        return live

    def on_frame(frame: np.ndarray | None, mode: str, painting: str | None, style: str | None, strength: float,
                 layer: str | None, steps: float, steady: bool, session: str) -> tuple[Any, str]:
        if frame is None:
            return gr.skip(), gr.skip()
        live = session_of(session)
        key = (mode, painting if mode == MODES[0] else None, style if mode == MODES[1] else None,
               float(strength) if mode != MODES[2] else None, layer if mode == MODES[2] else None,
               int(steps) if mode == MODES[2] else None, bool(steady))
        came = time.time()
        with live.lock:
            started = time.perf_counter()
            try:
                if key != live.key:
                    live.painter, live.key = painter_for(mode, painting, style, strength, layer, steps, steady), key
                out = live.painter(frame)
            except InceptionismError as exc:
                live.key = None
                return frame, f"waiting: {exc}"
            except Exception as exc:  # noqa: BLE001 - our bug: the log keeps the story, the stream goes on
                import traceback

                traceback.print_exc()
                live.key = None
                return frame, f"error: {type(exc).__name__}: {exc}"
            if live.recording:
                live.recorder.add(out)
            live.idle_said = False
            fps, took = live.tick(time.perf_counter() - started)
            live.answered.append(came)
        recording = f"; recording: {len(live.recorder.frames)} frames" if live.recording else ""
        note = f"; {live.note[0]}" if live.note[0] and time.monotonic() - live.note[1] < 15 else ""
        return out, f"live: {fps:.1f} frames a second, {1000 * took:.0f} ms of work a frame here{recording}{note}"

    painter_for = _painter_for(s, style_model, style_names, compile)
    start_recording, stop_recording = _recording(gr, s, session_of)
    c = _live_controls(gr, s, style_names, paintings, spec)

    def on_mode(value: str) -> tuple[Any, Any, Any, Any]:
        return (gr.Group(visible=value == MODES[0]), gr.Group(visible=value == MODES[1]),
                gr.Group(visible=value == MODES[2]), gr.Slider(visible=value != MODES[2]))

    c.mode.change(on_mode, c.mode, [c.painting_box, c.style_box, c.dream_box, c.strength], queue=False)
    c.camera.stream(on_frame, [c.camera, c.mode, c.painting, c.style, c.strength, c.layer, c.steps, c.steady,
                               s.session], [c.output, c.status], stream_every=STREAM_EVERY, time_limit=TIME_LIMIT_S,
                    concurrency_limit=s.limits.live_streams, concurrency_id="live", show_progress="hidden",
                    api_visibility="private")
    c.record.click(start_recording, s.session, c.status, queue=False)

    def idle(session: str) -> Any:
        """The status, once no picture has come for a while: the camera stopped (it kept saying "live: ...")."""
        live = sessions.get(session)
        if live is None or not live.times or live.idle_said or time.monotonic() - live.times[-1] < IDLE_S:
            return gr.skip()
        live.idle_said = True
        recording = f"; recording: {len(live.recorder.frames)} frames kept" if live.recording else ""
        return f"stopped: no picture from the camera (its own Record button starts it again){recording}"

    gr.Timer(IDLE_S / 2).tick(idle, s.session, c.status, queue=False, show_progress="hidden")
    recorded = c.stop.click(stop_recording, s.session, [c.movie, c.status], queue=False)
    s.results.append((recorded, c.movie))  # a recording joins this session's gallery, as every result does
