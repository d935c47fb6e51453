"""``gankit translate RUN INPUT... --out DIR``: run a pix2pix / CycleGAN generator on image files."""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "translate", help="translate images with a trained pix2pix or CycleGAN run",
        description="Read each INPUT image (or every image in an INPUT folder), resize it to the run's size "
                    "(short side, centre crop) and channels, translate it, and write DIR/<name>.png.")
    p.add_argument("run", help="run directory (from gankit train --model pix2pix|cyclegan)")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the translated PNGs")
    p.add_argument("--direction", choices=("ab", "ba"), default="ab",
                   help="ab: domain A -> B (default); ba: B -> A (CycleGAN only)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator, not its EMA")
    p.set_defaults(func=run)


def _inputs(paths: list[str]):
    from pathlib import Path

    from ..errors import GankitError
    from ..translation.data import image_files

    files = []
    for name in paths:
        p = Path(name).expanduser()
        if p.is_dir():
            found = list(image_files(p).values())
            if not found:
                raise GankitError(f"input folder {p} holds no images (png, jpg, ...)")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise GankitError(f"input {name} not found; give image files or folders of images")
    return files


def run(args) -> int:
    from pathlib import Path

    import torch
    from PIL import Image

    from ..errors import GankitError
    from ..pretrained import load
    from ..translation import Translator, read_image
    from ..translation.data import to_tensor

    if args.batch_size < 1:
        raise GankitError("--batch-size must be >= 1")
    files = _inputs(args.inputs)  # before loading the run: bad paths fail fast
    G = load(args.run, ema=not args.no_ema, device=args.device)
    if not isinstance(G, Translator):
        raise GankitError(f"{args.run} is a {G.config.model} run, which samples noise; gankit translate needs a "
                          f"pix2pix or cyclegan run (use gankit sample for this one)")
    if args.direction not in G.directions:
        raise GankitError(f"a {G.config.model} run translates {' and '.join(G.directions)} only; "
                          f"drop --direction {args.direction}")
    channels, size = G.data_spec.shape[0], G.data_spec.shape[-1]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for start in range(0, len(files), args.batch_size):
        chunk = files[start:start + args.batch_size]
        x = to_tensor([read_image(p, size, channels) for p in chunk]).to(args.device)
        with torch.no_grad():
            y = G.translate(x.float().div(127.5).sub(1.0), args.direction)
        images = y.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).cpu()
        for path, img in zip(chunk, images):
            name, k = path.stem, 1
            while name in used:
                name, k = f"{path.stem}-{k}", k + 1
            used.add(name)
            arr = img[0].numpy() if channels == 1 else img.permute(1, 2, 0).numpy()
            Image.fromarray(arr).save(out / f"{name}.png")
    print(f"wrote {len(files)} translated image(s) ({args.direction}, {size}x{size}) to {out}")
    return 0
