"""``inceptionism web``: start the browser UI (the app itself is :mod:`inceptionism.web`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from inceptionism.errors import ConfigError


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("web", help="the browser UI (binds to 127.0.0.1 unless told otherwise)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--style-model", default=None, metavar="MODEL", help="a train-style model for instant stylisation")
    p.add_argument("--dream-model", action="append", default=[], metavar="MODEL",
                   help="a train-dream model to dream with (repeatable): listed among the models, "
                        "with its classes or topics")
    p.add_argument("--max-upload-mb", type=float, default=20.0, help="largest upload in MB (default 20)")
    p.add_argument("--max-pixels", type=int, default=4096 * 4096, help="largest image in pixels (default 4096*4096)")
    p.set_defaults(func=cmd_web)


def cmd_web(args: argparse.Namespace) -> int:
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise ConfigError("the web UI needs Gradio: pip install 'inceptionism[web]'") from None
    from inceptionism.models.dream_file import read_dream_metadata
    from inceptionism.style.model_file import read_metadata
    from inceptionism.web import WebLimits, serve

    if args.style_model:
        read_metadata(args.style_model)  # a bad model file fails here, in one line
    for path in args.dream_model:
        read_dream_metadata(path)
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, got {args.port}")
    limits = WebLimits(max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels)
    print(f"inceptionism web UI on http://{args.host}:{args.port} (Ctrl-C stops it)", file=sys.stderr)
    serve(args.host, args.port, style_model=args.style_model, dream_models=tuple(args.dream_model), limits=limits)
    return 0
