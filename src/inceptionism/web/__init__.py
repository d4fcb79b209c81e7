"""The browser UI (Gradio): ``inceptionism web``.

:mod:`.app` holds what the tabs share (the limits, the job runner, the job files,
the session's gallery); :mod:`.dream_tab`, :mod:`.style_tab` and :mod:`.animate_tab`
are one tab each; :mod:`.server` builds the app from them and serves it.
"""

from inceptionism.web.app import WebLimits
from inceptionism.web.server import build_app, serve

__all__ = ["WebLimits", "build_app", "serve"]
