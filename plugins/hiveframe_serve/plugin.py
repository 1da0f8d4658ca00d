"""Entry module of hiveframe_serve: adds ``hiveframe serve``; imports only hiveframe and the standard library.

Starlette and uvicorn are imported only when the command runs; without them it says
"install hiveframe[serve]".
"""

from __future__ import annotations

import argparse
import logging

from hiveframe.hookspecs import hookimpl

__version__ = "0.1.0"

log = logging.getLogger(__name__)

DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return value


@hookimpl
def hiveframe_register_commands(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from hiveframe_serve.settings import ServeSettings

    defaults = ServeSettings()
    p = subparsers.add_parser("serve", parents=[common], help="serve a model over HTTP (GET /tables, POST /sample)",
                              description="Load MODEL_DIR once and serve synthetic rows over HTTP "
                              "(docs/serve.md). Needs hiveframe[serve].")
    p.add_argument("model", metavar="MODEL_DIR", help="model directory written by `hiveframe fit`")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}, this machine only; 0.0.0.0 for every interface)")
    p.add_argument("--max-rows", type=_positive_int, default=defaults.max_rows, metavar="N",
                   help=f"refuse requests that would return more rows (default {defaults.max_rows})")
    p.add_argument("--workers", type=_positive_int, default=defaults.workers, metavar="N",
                   help=f"requests sampled at once; the others wait (default {defaults.workers})")
    p.add_argument("--chunk-rows", type=_positive_int, default=defaults.chunk_rows, metavar="N",
                   help=f"rows per streamed chunk (default {defaults.chunk_rows})")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from hiveframe.errors import ConfigError

    try:
        import uvicorn
    except ImportError:
        raise ConfigError("hiveframe serve needs Starlette and uvicorn",
                          hint="pip install 'hiveframe[serve]'") from None
    from hiveframe.plugins import PluginHost
    from hiveframe_serve.app import create_app, load_model
    from hiveframe_serve.settings import ServeSettings

    host = PluginHost(block=getattr(args, "block_plugin", None) or ())
    synthesizer = load_model(args.model, host=host)
    settings = ServeSettings(max_rows=args.max_rows, workers=args.workers, chunk_rows=args.chunk_rows)
    app = create_app(synthesizer, settings, model_path=str(args.model))
    log.warning("serving %s on http://%s:%d (GET /tables, POST /sample); Ctrl-C stops",
                args.model, args.host, args.port)
    level = "debug" if getattr(args, "debug", False) else "info" if getattr(args, "verbose", False) else "warning"
    uvicorn.run(app, host=args.host, port=args.port, log_level=level)
    return 0
