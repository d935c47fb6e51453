"""The README's command-line tour, run top to bottom at tiny sizes (issue 18): every command must work
using only the runs and evaluators made above it.

The commands are read from README.md (the ```bash block under "### Command line") and run in order,
in-process, in an empty folder with ``$GANKIT_DATA`` pointing at a small fake MNIST (both splits) and
``$HOME`` / ``$GANKIT_CACHE`` in the test's folder. To shrink the budgets the test sets the flags in
``SHRINK`` (``--steps 2``, tiny widths, a few samples), replacing the README's value where it gives one.
``gankit serve`` / ``gankit lab`` build their app and answer one request instead of serving forever;
``torchrun`` is not run here (tests/test_distributed.py covers data-parallel training).
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from gankit.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
TRAIN = {"--steps": "2", "--g-width": "8", "--d-width": "8", "--batch-size": "16", "--threads": "1",
         "--sample-every": "1", "--no-tensorboard": None, "--device": "cpu"}
SHRINK = {  # command -> flags set (value None: a switch)
    "train": TRAIN,
    "train --resume": {"--steps": "4", "--no-tensorboard": None},
    "train --help": {},
    "sample": {"--drs-calibrate": "5"},
    "train-evaluator": {"--epochs": "1", "--limit": "120", "--batch-size": "32"},
    "evaluate": {"--n": "64", "--n-ref": "64", "--batch-size": "64"},
    "analyze": {**TRAIN, "--pretrain-d": "2"},
}


def tour_commands() -> list[list[str]]:
    text = README.read_text()
    block = re.search(r"### Command line\n.*?```bash\n(.*?)```", text, re.S).group(1)
    commands = []
    for line in block.splitlines():
        for part in line.split("&&"):
            args = shlex.split(part, comments=True)
            if args:
                commands.append(args)
    return commands


def shrink(args: list[str]) -> list[str]:
    key = next((k for k in (f"{args[0]} {args[1] if len(args) > 1 else ''}".strip(), args[0]) if k in SHRINK), None)
    if key is None:
        return args
    args = list(args)
    for flag, value in SHRINK[key].items():
        if flag in args:
            if value is not None:
                args[args.index(flag) + 1] = value
        else:
            args += [flag] if value is None else [flag, value]
    if args[0] == "sample" and "-n" in args:
        args[args.index("-n") + 1] = str(min(int(args[args.index("-n") + 1]), 64))
    return args


def test_the_tour_parses_and_chains():
    commands = tour_commands()
    assert commands[0][:2] == ["gankit", "train"] and len(commands) >= 15
    made, used = set(), []
    for args in commands:  # every run/evaluator a command reads was written by a command above it
        for i, a in enumerate(args):
            if args[:2] == ["gankit", "train"] and a == "--out" or args[1] == "train-evaluator" and a == "--out":
                made.add(args[i + 1])
        reads = [a for a in args[2:] if re.fullmatch(r"runs/\w+|EV", a) and a not in args[args.index("--out") + 1:
                                                                                    args.index("--out") + 2]] \
            if "--out" in args else [a for a in args[2:] if re.fullmatch(r"runs/\w+|EV", a)]
        for r in reads:
            assert r in made, f"{' '.join(args)} uses {r} before the tour makes it"
            used.append(r)
    assert {"runs/digits", "runs/mnist", "runs/cgan", "runs/grid", "EV", "runs/inverted"} <= set(used)


def test_the_tour_runs_top_to_bottom(tmp_path, monkeypatch, fake_mnist, capsys):
    import gankit.commands.serve as serve_cmd
    from fastapi.testclient import TestClient

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("GANKIT_DATA", str(fake_mnist))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    answered = []

    def one_request(app, host, port, exposure, banner):  # instead of serving until Ctrl-C
        with TestClient(app) as client:
            path = "/api/runs" if any(r.path == "/api/runs" for r in app.routes) else "/lab"
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
            answered.append((path, response.text))

    monkeypatch.setattr(serve_cmd, "run_server", one_request)
    ran = []
    for args in tour_commands():
        if args[0] == "torchrun":
            continue
        assert args[0] == "gankit", args
        argv = shrink(args[1:])
        if argv[:2] == ["train", "--help"]:
            with pytest.raises(SystemExit) as e:
                main(argv)
            assert e.value.code == 0
            continue
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 0, f"gankit {' '.join(argv)} exited {code}: {err[-1500:]}"
        ran.append(argv[0])
    assert ran.count("train") >= 6 and {"sample", "info", "presets", "evaluate", "train-evaluator", "analyze",
                                        "translate", "serve", "lab"} <= set(ran)
    for f in ("grid.png", "sevens.png", "grid-drs.png", "digit.png", "runs/mnist/eval.json", "EV"):
        assert (work / f).exists(), f
    assert list((work / "inverted").glob("*.png"))
    runs_page = dict(answered)["/api/runs"]
    assert "mnist" in runs_page and "cgan" in runs_page
