"""``gankit serve RUN [RUN ...]``: the GAN explorer web app (sample grid, interpolation, curves,
evaluation report) and its JSON/PNG API, on loopback by default."""
from __future__ import annotations

import ipaddress
import socket
import sys

from ..errors import GankitError


def register(subparsers) -> None:
    p = subparsers.add_parser("serve", help="explore trained runs in the browser (and a JSON/PNG API)",
                              description="Serve the GAN explorer over one or more run directories. "
                                          "Needs the serve extra: pip install 'gankit[serve]'.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directory (addressed by its name)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    p.add_argument("--max-n", type=int, default=256, help="most samples per request")
    p.add_argument("--max-concurrency", type=int, default=2, help="generations running at once")
    p.add_argument("--max-queue", type=int, default=64, help="requests waiting for a slot before 503")
    p.add_argument("--device", default="cpu")
    p.add_argument("--lab", action="store_true", help="also serve the lab (a Lab tab; see gankit lab)")
    p.set_defaults(func=cmd_serve)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def listen(host: str, port: int) -> socket.socket:
    """Bind first, so a taken port is a one-line error rather than a server traceback."""
    if not 0 <= port <= 65535:
        raise GankitError(f"--port must be in 0..65535 (got {port}); 0 picks a free port")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise GankitError(f"cannot listen on {host}:{port} ({e.strerror}); choose another --port or --host") from None
    sock.listen(2048)
    return sock


def _lab_routes():
    from ..lab.app import Lab, add_lab_routes

    return lambda app: add_lab_routes(app, Lab())


def cmd_serve(args) -> int:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise GankitError(f"gankit serve needs FastAPI and uvicorn ({e.name} is missing): "
                          f"pip install 'gankit[serve]'") from None
    from ..serve.app import create_app

    for name, v in (("--max-n", args.max_n), ("--max-concurrency", args.max_concurrency)):
        if v < 1:
            raise GankitError(f"{name} must be >= 1")
    if args.max_queue < 0:
        raise GankitError("--max-queue must be >= 0")
    app = create_app(args.runs, max_n=args.max_n, max_concurrency=args.max_concurrency,
                     max_queue=args.max_queue, device=args.device, extra_routes=_lab_routes() if args.lab else None)
    run_server(app, args.host, args.port, "the explorer has no authentication",
               lambda url: f"gankit explorer on {url}/ (runs: {', '.join(app.state.runs)}); Ctrl-C stops")
    return 0


def run_server(app, host_arg: str, port_arg: int, exposure: str, banner) -> None:
    """Bind (``listen``), warn when ``host_arg`` is reachable from other machines (``exposure`` says
    what that exposes), print ``banner(base_url)`` and serve ``app`` with uvicorn until Ctrl-C."""
    import uvicorn

    sock = listen(host_arg, port_arg)
    host, port = sock.getsockname()[:2]
    if not _is_loopback(host_arg):
        print(f"warning: serving on {host_arg}, reachable from other machines; {exposure}", file=sys.stderr)
    url_host = f"[{host}]" if ":" in host else host
    print(banner(f"http://{url_host}:{port}"), file=sys.stderr, flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])
