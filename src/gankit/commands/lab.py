"""``gankit lab``: watch a GAN learn, live in the browser (after GAN Lab, Kahng et al. 2018), on loopback
by default. Training runs on this machine with gankit's own trainer; the page is bundled (works offline)."""
from __future__ import annotations


from ..errors import GankitError


def register(subparsers) -> None:
    p = subparsers.add_parser("lab", help="watch a 2-D / 1-D GAN learn, live in the browser",
                              description="Serve the GAN lab: live training of small GANs with the heat map of D, "
                                          "G's gradients, D*, losses and mode metrics. Needs gankit[serve].")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=8001, help="port (0: any free port)")
    p.add_argument("--max-sessions", type=int, default=8, help="training runs at once, over all tabs")
    p.add_argument("--max-steps", type=int, default=20_000, help="most G steps a run may take")
    p.add_argument("--idle-timeout", type=float, default=20.0, help="seconds a run outlives its last viewer")
    p.add_argument("--threads", type=int, default=1, help="torch threads (small MLPs: 1 is fastest)")
    p.set_defaults(func=cmd_lab)


def cmd_lab(args) -> int:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise GankitError(f"gankit lab needs FastAPI and uvicorn ({e.name} is missing): "
                          f"pip install 'gankit[serve]'") from None
    import torch

    from ..lab.app import create_lab_app
    from .serve import run_server

    for name, v in (("--max-sessions", args.max_sessions), ("--max-steps", args.max_steps), ("--threads", args.threads)):
        if v < 1:
            raise GankitError(f"{name} must be >= 1")
    if not args.idle_timeout > 0:
        raise GankitError("--idle-timeout must be > 0")
    torch.set_num_threads(args.threads)
    app = create_lab_app(args.max_sessions, args.max_steps, args.idle_timeout)
    run_server(app, args.host, args.port, "the lab has no authentication and trains on this machine's CPU",
               lambda url: f"gankit lab on {url}/lab ; Ctrl-C stops")
    return 0
