"""The browser UI (Gradio): ``inceptionism web``, on the library's public functions.

:mod:`.app` holds what the tabs share (the limits, the job runner, the job files, the session's gallery); each
tab is a module of its own: :mod:`.dream_tab`, :mod:`.visualize_tab`, :mod:`.animate_tab`, :mod:`.style_tab`
(any painting, the built-in styles, your networks, optimisation), :mod:`.train_tab` (style networks and dream
models trained in the background) and :mod:`.live_tab` (the camera, painted or dreamed); :mod:`.server` builds
the app from them and serves it.
"""

from inceptionism.web.app import WebLimits
from inceptionism.web.server import build_app, serve

__all__ = ["WebLimits", "build_app", "serve"]
