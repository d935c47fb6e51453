"""Walking the latent space: interpolation (Radford et al. 2016, Sec. 6.1; White 2016, "Sampling
Generative Networks"), class grids for conditional generators, and latent vector arithmetic
(Radford et al. 2016, Sec. 6.3, Fig. 7: mean z of "smiling woman" - "neutral woman" + "neutral man").
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from ..models.layers import evaluating
from ..utils.images import save_gif
from ._plot import save_grid


def lerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """(1 - t) z0 + t z1 for each t: (T,) x (..., D) -> (T, ..., D)."""
    t = t.reshape(-1, *([1] * z0.dim())).to(z0)
    return (1 - t) * z0 + t * z1


def slerp(z0: Tensor, z1: Tensor, t: Tensor, eps: float = 1e-7) -> Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016) along the last dimension.

    The direction moves along the great circle, sin((1-t)W)/sin W u0 + sin(tW)/sin W u1 with
    W = arccos(u0 . u1); the norm is interpolated linearly, so a path between vectors of equal norm
    keeps that norm (a Gaussian z's typical shell), and t = 0, 1 give z0, z1 exactly. Falls back
    to lerp for (anti)parallel directions, where the great circle is undefined.
    """
    t = t.reshape(-1, *([1] * z0.dim())).to(z0)
    n0, n1 = z0.norm(dim=-1, keepdim=True), z1.norm(dim=-1, keepdim=True)
    u0, u1 = z0 / n0.clamp_min(eps), z1 / n1.clamp_min(eps)
    omega = torch.arccos((u0 * u1).sum(-1, keepdim=True).clamp(-1, 1))
    so = torch.sin(omega)
    ok = so > eps
    so = torch.where(ok, so, torch.ones_like(so))
    u = torch.where(ok, (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / so, lerp(u0, u1, t))
    out = u * ((1 - t) * n0 + t * n1)
    out = torch.where(t == 0, z0.expand_as(out), out)  # exact endpoints, not up to rounding
    return torch.where(t == 1, z1.expand_as(out), out)


INTERPOLATIONS = {"linear": lerp, "slerp": slerp}


def interpolation_paths(z_dim: int, n_paths: int, n_steps: int, method: str = "slerp", seed: int = 0) -> Tensor:
    """(n_paths, n_steps, z_dim) latent paths between random pairs of z ~ N(0, I)."""
    g = torch.Generator().manual_seed(seed)
    z0, z1 = torch.randn(n_paths, z_dim, generator=g), torch.randn(n_paths, z_dim, generator=g)
    t = torch.linspace(0, 1, n_steps)
    return INTERPOLATIONS[method](z0, z1, t).transpose(0, 1)


@torch.no_grad()
def render(G, z: Tensor, y: Tensor | None = None, batch: int = 256) -> Tensor:
    """G(z, y) in eval mode on G's device, in batches; z of shape (..., z_dim) -> (..., C, H, W)."""
    param = next(G.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    flat = z.reshape(-1, z.shape[-1])
    yf = None if y is None else y.reshape(-1)
    with evaluating(G):
        out = torch.cat([G(flat[i:i + batch].to(device), None if yf is None else yf[i:i + batch].to(device)).cpu()
                         for i in range(0, len(flat), batch)])
    return out.reshape(*z.shape[:-1], *out.shape[1:])


def save_interpolation(G, out_dir, n_paths: int = 8, n_steps: int = 10, method: str = "slerp",
                       seed: int = 0, label: int | None = None, duration_ms: int = 120) -> dict:
    """Rows = paths, columns = steps (``interpolate-<method>.png``), and a GIF walking all
    paths at once, there and back (``interpolate-<method>.gif``)."""
    out_dir = Path(out_dir)
    z = interpolation_paths(G.z_dim, n_paths, n_steps, method, seed)
    y = _labels(G, label, z.shape[:2], seed)
    images = render(G, z, y)                                    # (P, T, C, H, W)
    ts = [i / (n_steps - 1) for i in range(n_steps)]
    png = save_grid(images.flatten(0, 1), out_dir / f"interpolate-{method}.png", nrow=n_steps,
                    title=f"{method} interpolation: one path per row, t from 0 to 1 along it",
                    col_labels=[f"{t:.2f}" for t in ts], row_labels=[f"path {p}" for p in range(n_paths)])
    frame_dir = out_dir / f"frames-{method}"
    frames = [save_grid(images[:, i], frame_dir / f"{i:03d}.png", nrow=min(n_paths, 8), min_side=256)
              for i in range(n_steps)]
    captions = [f"{method} t = {t:.2f}" for t in ts]
    gif = save_gif(frames + frames[-2:0:-1], out_dir / f"interpolate-{method}.gif", duration_ms,
                   captions=captions + captions[-2:0:-1])
    norms = z.norm(dim=-1)
    return {"method": method, "paths": n_paths, "steps": n_steps, "seed": seed, "label": label,
            "z_norm_endpoints_mean": float(norms[:, [0, -1]].mean()),
            "z_norm_midpoint_mean": float(norms[:, n_steps // 2].mean()),
            "png": str(png), "gif": str(gif)}


def _labels(G, label, shape, seed):
    if not getattr(G, "num_classes", 0):
        return None
    if label is not None:
        return torch.full(shape, int(label), dtype=torch.long)
    g = torch.Generator().manual_seed(seed + 1)  # one label per path, fixed along it
    return torch.randint(G.num_classes, shape[:1], generator=g)[:, None].expand(shape).contiguous()


def class_grid(G, out_path, n_rows: int = 8, seed: int = 0) -> dict:
    """A conditional generator with a fixed z per row across every label (columns): what z
    carries (style) versus what y carries (class)."""
    k = getattr(G, "num_classes", 0)
    if not k:
        raise ValueError("class_grid needs a conditional generator (cgan / acgan)")
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n_rows, 1, G.z_dim, generator=g).expand(n_rows, k, G.z_dim)
    y = torch.arange(k).expand(n_rows, k)
    images = render(G, z, y)
    col_labels = [str(c) for c in range(k)]
    png = save_grid(images.flatten(0, 1), out_path, nrow=k, col_labels=col_labels,
                    title="columns: class label y; rows: one z each")
    return {"rows": n_rows, "classes": k, "seed": seed, "png": str(png), "col_labels": col_labels}


# ---------------------------------------------------------------------- vector arithmetic
def group_mean(z: Tensor, index: Sequence[int] | Tensor) -> Tensor:
    """The mean latent vector of a group of samples (DCGAN averages 3 exemplars per concept)."""
    index = torch.as_tensor(index, dtype=torch.long)
    if index.numel() == 0:
        raise ValueError("a vector-arithmetic group needs at least one sample")
    return z[index].mean(0)


def arithmetic(z: Tensor, a, b, c) -> Tensor:
    """mean(z[a]) - mean(z[b]) + mean(z[c])."""
    return group_mean(z, a) - group_mean(z, b) + group_mean(z, c)


def select_by_label(predicted: Tensor, confidence: Tensor, label: int, k: int) -> list[int]:
    """Indices of the ``k`` samples a classifier labels ``label`` with the highest confidence."""
    idx = torch.nonzero(predicted == label).flatten()
    if len(idx) < k:
        raise ValueError(f"only {len(idx)} samples are classified as {label}; draw a larger --pool")
    return idx[confidence[idx].argsort(descending=True)[:k]].tolist()


def vector_arithmetic(G, groups: dict[str, Sequence[int] | int], out_dir, pool: int = 256, seed: int = 0,
                      per_group: int = 3, n_results: int = 8, noise: float = 0.25,
                      classifier: Callable[[Tensor], Tensor] | None = None, label: int | None = None) -> dict:
    """A - B + C in latent space, DCGAN Fig. 7 style.

    ``groups`` maps "a", "b", "c" to sample indices into a pool of ``pool`` samples drawn with
    ``seed`` (see ``pool.png``), or to a class: the ``per_group`` pool samples ``classifier`` (images
    -> logits) labels so most confidently. The result z is rendered with ``n_results - 1`` variants
    perturbed by uniform noise of +-``noise`` (as in the paper). Writes ``pool.png`` and
    ``arithmetic.png`` (rows: A's exemplars and mean, B's, C's, then the results).
    """
    out_dir = Path(out_dir)
    for key, spec in groups.items():
        if not isinstance(spec, int) and (not len(spec) or min(spec) < 0 or max(spec) >= pool):
            raise ValueError(f"group {key.upper()} indices must lie in [0, {pool}) (the pool of {pool} samples)")
        if isinstance(spec, int) and classifier is None:
            raise ValueError("selecting a group by class needs a classifier")
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(pool, G.z_dim, generator=g)
    y = None
    if getattr(G, "num_classes", 0):
        y = torch.full((pool,), 0 if label is None else int(label), dtype=torch.long)
    images = render(G, z, y)
    pool_png = save_grid(images, out_dir / "pool.png", nrow=16, col_labels=[f"+{j}" for j in range(16)],
                         row_labels=[str(i) for i in range(0, pool, 16)],
                         title="the pool: sample index = row label + column label (for --a/--b/--c)")
    chosen, predicted = {}, None
    if classifier is not None:
        with torch.no_grad():
            confidence, predicted = torch.softmax(classifier(images), dim=1).max(1)
    for key in ("a", "b", "c"):
        spec = groups[key]
        chosen[key] = select_by_label(predicted, confidence, spec, per_group) if isinstance(spec, int) \
            else [int(i) for i in spec]
    result = arithmetic(z, chosen["a"], chosen["b"], chosen["c"])
    gn = torch.Generator().manual_seed(seed + 1)
    variants = result + noise * (2 * torch.rand(n_results - 1, G.z_dim, generator=gn) - 1)
    z_out = torch.cat([result[None], variants])
    means = torch.stack([group_mean(z, chosen[k]) for k in ("a", "b", "c")])
    y_means = None if y is None else y[:3]
    y_out = None if y is None else y[:1].expand(len(z_out))
    mean_images = render(G, means, y_means)
    most = max(len(v) for v in chosen.values())  # exemplar columns; G(mean z) in the column after them
    rows, width = [], max(most + 1, n_results)
    blank = torch.ones_like(images[:1])
    for i, key in enumerate(("a", "b", "c")):
        ex = images[chosen[key]]
        rows.append(torch.cat([ex, blank.expand(most - len(ex), *blank.shape[1:]), mean_images[i:i + 1],
                               blank.expand(width - most - 1, *blank.shape[1:])]))
    res = render(G, z_out, y_out)
    rows.append(torch.cat([res, blank.expand(width - len(res), *blank.shape[1:])]))
    row_labels = ["A", "B", "C", "A - B + C"]
    col_labels = [f"#{i + 1}" for i in range(most)] + ["mean z"] + [""] * (width - most - 1)
    png = save_grid(torch.cat(rows), out_dir / "arithmetic.png", nrow=width, row_labels=row_labels,
                    col_labels=col_labels, title=f"rows A, B, C: exemplars and G(mean z); last row: "
                    f"G(mean A - mean B + mean C), then {n_results - 1} variants with noise +-{noise}")
    ink = lambda x: float(x.add(1).div(2).mean())  # noqa: E731  mean intensity in [0, 1] (stroke weight)
    out = {"groups": {k.upper(): chosen[k] for k in chosen}, "pool": pool, "seed": seed, "noise": noise,
           "result_z_norm": float(result.norm()), "png": str(png), "pool_png": str(pool_png),
           "row_labels": row_labels,
           "mean_intensity": {**{k.upper(): ink(images[chosen[k]]) for k in chosen},
                              **{f"G(mean z_{k.upper()})": ink(mean_images[i:i + 1]) for i, k in enumerate("abc")},
                              "result": ink(res)}}
    if classifier is not None:
        with torch.no_grad():
            out["result_predicted_labels"] = classifier(res).argmax(1).tolist()
        out["group_predicted_labels"] = {k.upper(): predicted[chosen[k]].tolist() for k in chosen}
    return out
