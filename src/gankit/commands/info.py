"""``gankit info RUN``: what a run directory holds (model, data, sizes, latest checkpoint and metrics)."""
from __future__ import annotations

import json


def register(subparsers) -> None:
    i = subparsers.add_parser("info", help="describe a run directory")
    i.add_argument("run")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=run)


def run(args) -> int:
    from ..pretrained import load
    from ..runs import Run

    r = Run(args.run)
    cfg, meta = r.read()
    G, D = load(args.run, discriminator=True)
    last = r.latest_checkpoint()
    rows = r.metrics()
    info = {
        "run": str(args.run), "model": cfg.model, "loss": cfg.loss, "data": cfg.data,
        "data_spec": meta["data_spec"], "gankit_version": meta.get("gankit_version"),
        "generator_params": sum(p.numel() for p in G.parameters()),
        "discriminator_params": sum(p.numel() for p in D.parameters()),
        "latest_checkpoint": str(last) if last else None,
        "last_metrics": rows[-1] if rows else None,
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k:22s} {v}")
    return 0
