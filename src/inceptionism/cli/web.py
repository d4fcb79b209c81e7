"""``inceptionism web``: start the browser UI (the app itself is :mod:`inceptionism.web`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from inceptionism.errors import ConfigError

AUTH_ENV = "INCEPTIONISM_WEB_AUTH"


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("web", help="the browser UI (binds to 127.0.0.1 unless told otherwise)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only); any other needs --auth or --no-auth")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--style-model", default=None, metavar="MODEL",
                   help="a train-style model for instant stylisation (default: the one that ships)")
    p.add_argument("--dream-model", action="append", default=[], metavar="MODEL",
                   help="a train-dream model to dream with (repeatable): listed among the models, "
                        "with its classes or topics")
    p.add_argument("--max-upload-mb", type=float, default=20.0,
                   help="largest upload in MB, a zip of photos for the Train tab too (default 20)")
    p.add_argument("--max-train-steps", type=int, default=5000, metavar="N",
                   help="the most steps a training started in the Train tab may run (default 5000)")
    p.add_argument("--no-compile", dest="compile_live", action="store_false",
                   help="the Live tab paints with the style networks as they are, instead of compiling them with "
                        "torch.compile in the background (most of a minute per frame size; then twice as fast)")
    p.add_argument("--train-dir", default=None, metavar="DIR",
                   help="where the Train tab's models go, kept after the server stops; the models already there "
                        "are offered at start (default: a temporary folder, for the server's life)")
    p.add_argument("--max-pixels", type=int, default=4096 * 4096, help="largest image in pixels (default 4096*4096)")
    p.add_argument("--max-queue", type=int, default=16, metavar="N",
                   help="jobs that may wait; more are told the server is busy (default 16)")
    login = p.add_mutually_exclusive_group()
    login.add_argument("--auth", action="append", default=None, metavar="USER:PASSWORD",
                       help=f"ask visitors to log in (repeatable; or --auth-file, or ${AUTH_ENV}=USER:PASSWORD)")
    login.add_argument("--auth-file", default=None, metavar="FILE", help="USER:PASSWORD lines, one per account")
    login.add_argument("--no-auth", action="store_true",
                       help="serve an address others can reach without a login, on purpose")
    p.set_defaults(func=cmd_web)


def _credentials(args: argparse.Namespace) -> list[tuple[str, str]]:
    """Accounts from --auth, --auth-file or the environment (in that order of precedence)."""
    if args.auth:
        lines, where = args.auth, "--auth"
    elif args.auth_file:
        try:
            with open(args.auth_file, encoding="utf-8") as f:
                lines = [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
        except OSError as exc:
            raise ConfigError(f"--auth-file {args.auth_file}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"--auth-file {args.auth_file}: not UTF-8 text") from None
        where = args.auth_file
    elif os.environ.get(AUTH_ENV):
        lines, where = [os.environ[AUTH_ENV]], AUTH_ENV
    else:
        return []
    accounts = []
    for line in lines:
        user, sep, password = line.partition(":")
        if not sep or not user or not password:
            raise ConfigError(f"{where}: expected USER:PASSWORD, got {line[:1]}... (no user or no password)")
        accounts.append((user, password))
    if not accounts:
        raise ConfigError(f"{where}: holds no USER:PASSWORD line")
    return accounts


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def cmd_web(args: argparse.Namespace) -> int:
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise ConfigError("the web UI needs Gradio: pip install 'inceptionism[web]'") from None
    from inceptionism.models.dream_file import read_dream_metadata
    from inceptionism.style.model_file import read_metadata
    from inceptionism.web import WebLimits, serve

    accounts = _credentials(args)
    if not accounts and not args.no_auth and not is_loopback(args.host):
        raise ConfigError(f"--host {args.host} lets other machines in: add --auth USER:PASSWORD (or --auth-file, or "
                          f"${AUTH_ENV}), or --no-auth if an open server is what you mean")
    if args.style_model:
        read_metadata(args.style_model)  # a bad model file fails here, in one line
    for path in args.dream_model:
        read_dream_metadata(path)
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, got {args.port}")
    if args.max_queue < 1:
        raise ConfigError(f"--max-queue must be at least 1, got {args.max_queue}")
    if args.max_train_steps < 10:
        raise ConfigError(f"--max-train-steps must be at least 10, got {args.max_train_steps}")
    if args.train_dir:
        try:
            Path(args.train_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--train-dir {args.train_dir}: {exc.strerror or exc}") from None
    limits = WebLimits(max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels,
                       queue_size=args.max_queue, max_train_steps=args.max_train_steps)
    login = f", login required ({len(accounts)} account{'s' if len(accounts) > 1 else ''})" if accounts else ""
    print(f"inceptionism web UI on http://{args.host}:{args.port}{login} (Ctrl-C stops it)", file=sys.stderr)
    serve(args.host, args.port, style_model=args.style_model, dream_models=tuple(args.dream_model), limits=limits,
          auth=accounts or None, train_dir=args.train_dir, compile_live=args.compile_live)
    return 0
