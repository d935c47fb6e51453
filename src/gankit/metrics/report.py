"""``eval.md``: a short markdown summary of an evaluation's eval.json dict."""
from __future__ import annotations

from pathlib import Path

__all__ = ["write_report", "write_results"]

_LABELS = {
    "fid": ("FID", "lower is better"),
    "fid_samples": ("FID samples", "samples behind the FID (biased upwards when not above the feature dimension)"),
    "kid": ("KID", "unbiased MMD², lower is better; ± std over subsets"),
    "cmmd": ("CMMD", "RBF MMD² ×1000 on unit-norm features (σ = 10); CMMD proper with the clip extractor"),
    "is": ("IS", "higher is better; ± std over splits"),
    "is_real": ("IS of real data", "the same classifier on real images: the ceiling"),
    "precision": ("precision (k=3)", "fraction of samples on the real manifold"),
    "recall": ("recall (k=3)", "fraction of real data covered by the samples' manifold"),
    "density": ("density (k=5)", "≈1 for matching distributions"),
    "coverage": ("coverage (k=5)", "fraction of real neighbourhoods holding a sample"),
    "classes_seen": ("classes seen", "classes predicted at least once"),
    "class_kl": ("class KL to uniform", "KL(predicted histogram || uniform), 0 is balanced"),
    "class_accuracy": ("class accuracy", "classifier agrees with the requested label"),
    "class_kl_to_target": ("class KL to requested", "KL(requested || predicted histogram)"),
    "modes": ("modes captured", "modes nearest to at least one high-quality sample (VEEGAN, PacGAN)"),
    "modes_strict": ("modes ≥ 20%", "modes with ≥ ceil(N/5M) high-quality samples (gankit's stricter count)"),
    "high_quality": ("high quality", "within 3σ of a centre; a perfect sampler scores 98.89%"),
    "reverse_kl": ("reverse KL", "KL(mode histogram || uniform), 0 is balanced"),
}


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}"


def write_report(result: dict, path: str | Path) -> Path:
    """A short markdown summary of an eval.json dict."""
    m = result["metrics"]
    ext = result.get("extractor", {}).get("name", "none (2-D coordinates)")
    lines = [f"# Evaluation of `{result['run']}`", "",
             f"{result['n']} samples (seed {result['seed']}, {'EMA' if result['ema'] else 'raw'} generator) of "
             f"{result['data']} ({result['split']} split, shape {tuple(result['shape'])}); features: {ext}"
             + (f"; reference: {result['reference']['count']} real images" if "reference" in result else "")
             + ".", "", "| metric | value | meaning |", "| --- | --- | --- |"]
    for key, (label, meaning) in _LABELS.items():
        if key not in m:
            continue
        value = _fmt(m[key])
        if f"{key}_std" in m:
            value += f" ± {_fmt(m[key + '_std'])}"
        if key == "classes_seen":
            value += f" / {m['num_classes']}"
        if key in ("modes", "modes_strict"):
            value += f" / {m['num_modes']}"
        if key in ("high_quality",) and m[key] is not None:
            value = f"{100 * m[key]:.2f}%"
        lines.append(f"| {label} | {value} | {meaning} |")
    for k, why in result.get("skipped", {}).items():
        lines.append(f"\n- `{k}` not computed: {why}")
    for note in result.get("notes", []):
        lines.append(f"\n- note: {note}")
    for k, v in result.get("non_finite", {}).items():
        lines.append(f"\n- `{k}` is {v} (written as null in eval.json)")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def write_results(result: dict, run: str | Path) -> Path:
    """``run``/eval.json (the dict, crash-safe; the latest evaluation), ``run``/eval.md (its summary) and
    a copy in ``run``/evals/eval-<timestamp>.json, so that a re-run keeps the earlier results. An
    eval.json from before that history existed is moved into it first. Returns the history copy."""
    import shutil
    import time

    from ..runs import Run
    from ..utils.io import write_json

    r = Run(run)
    if r.file("eval.json") and not r.evals_dir.is_dir():  # an older gankit's result: keep it
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(r.file("eval.json").stat().st_mtime))
        r.evals_dir.mkdir()
        shutil.copy2(r.file("eval.json"), r.evals_dir / f"eval-{stamp}.json")
    copy = r.new_eval_path()
    write_json(copy, result)
    write_json(r.path / "eval.json", result)
    write_report(result, r.path / "eval.md")
    return copy
