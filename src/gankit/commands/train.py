"""``gankit train``: train a GAN (default: the dcgan-digits preset), or ``--resume`` a run."""
from __future__ import annotations

import argparse
import os
import sys
import time

from ..config import DEFAULT_PRESET


def register(subparsers) -> None:
    from ._flags import add_config_flags

    t = subparsers.add_parser("train", help="train a GAN (default: DCGAN on the bundled digits)",
                              usage="gankit train [--config PRESET] [--resume [RUN]] [--overwrite] [FLAG ...]",
                              description="Train a GAN. Flags override the --config file (see `gankit presets`); "
                                          "without --config they override the preset recommended for the --data "
                                          f"and --model (the default job: {DEFAULT_PRESET}), so every flag not "
                                          "given keeps a good setting. Off a terminal, progress is one line every "
                                          "--log-every steps.")
    t.add_argument("--config", help="YAML/JSON config file or preset name")
    t.add_argument("--resume", nargs="?", const=True, default=False, metavar="RUN",
                   help="continue the run in RUN (or --out) from its latest checkpoint")
    t.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    t.add_argument("--eval", action=argparse.BooleanOptionalAction, dest="quality",
                   default=os.environ.get("GANKIT_TRAIN_EVAL", "1") != "0",
                   help="after training on digits or MNIST, measure FD / KID / precision / recall (and class "
                        "accuracy) with a LeNet evaluator trained once and cached, into report.md (default: on; "
                        "GANKIT_TRAIN_EVAL=0 turns the default off)")
    add_config_flags(t, preset=DEFAULT_PRESET)
    t.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..errors import GankitError, Interrupted
    from ..runs import Run
    from ..training.trainer import Trainer
    from ..utils.threads import resolve_threads
    from ._flags import given_flags

    flags = given_flags(args)
    if args.resume:
        where = args.resume if isinstance(args.resume, str) else flags.get("out")
        if not where:
            raise GankitError("--resume needs the run directory: --resume RUN or --resume --out RUN")
        run_dir = Path(where)
        cfg = Run(run_dir).config()
        cfg = cfg.replace(**{k: v for k, v in flags.items() if k != "out"})
    else:
        cfg = job_config(args.config, flags)
        if not cfg.out and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise GankitError("--out is required under torchrun (every process must name the same run directory)")
        run_dir = Path(cfg.out or f"runs/{cfg.model}-{cfg.data}-{time.strftime('%Y%m%d-%H%M%S')}")
    cfg = cfg.replace(threads=resolve_threads(cfg.threads))  # recorded in config.json: a resume uses as many
    try:
        trainer = Trainer(cfg, run_dir, resume=bool(args.resume), overwrite=args.overwrite)
    except KeyboardInterrupt:
        raise Interrupted("interrupted during start-up, before training started") from None
    main_rank = trainer.dist.is_main  # under torchrun, rank 0 alone reports
    if main_rank:
        print(f"training {cfg.model}/{cfg.loss} on {cfg.data} ({len(trainer.data)} samples, shape "
              f"{tuple(trainer.spec.shape)}) for {trainer.total_steps} generator steps on {trainer.device} "
              f"-> {run_dir} ({cfg.threads} CPU thread{'s' if cfg.threads > 1 else ''}, "
              f"{'fp32' if trainer.cfg.amp == 'none' else trainer.cfg.amp}"
              f"{' + channels-last' if trainer.cfg.channels_last else ''})"
              + (f" ({trainer.dist.world_size} processes)" if trainer.dist.enabled else ""), file=sys.stderr)
    try:
        result = trainer.train()
    except KeyboardInterrupt:  # a second Ctrl-C: the checkpoint being written was completed first
        last = Run(run_dir).latest_checkpoint()
        raise Interrupted(f"interrupted at step {trainer.step}; " + (
            f"the last checkpoint is {last.name}; continue with: gankit train --resume {run_dir}" if last
            else "no checkpoint was written")) from None
    if not main_rank:
        return 0
    state = "stopped early (signal) and saved" if result["stopped_early"] else "done"
    rate = f"{result['images_per_s']:.0f} images/s"
    if args.resume:  # the total, and what this session (the resumed segment) ran
        print(f"{state}: {result['steps']} steps in total ({result['wall_time_s']:.1f}s); this session: "
              f"{result['session_steps']} steps in {result['session_s']:.1f}s ({rate})")
    else:
        print(f"{state}: {result['steps']} steps in {result['wall_time_s']:.1f}s ({rate})")
    print(f"samples: {result['samples']}")
    print(f"report:  {result['report']}")
    if args.quality and not result["stopped_early"]:
        from ..metrics.quality import measure_quality, quality_line

        quality = measure_quality(run_dir, log=lambda msg: print(msg, file=sys.stderr))
        if quality is not None:
            print(f"quality: {quality_line(quality)}")
    return 0


def job_config(config: str | None, flags: dict):
    """The config of a new run: the --config file, or the recommended preset for the flags' data and
    model (``TrainConfig.recommended``), with the flags on top."""
    from ..config import TrainConfig

    if config:
        return TrainConfig.from_preset(config, source="flags", **flags)
    return TrainConfig.recommended(source="flags", **flags)
