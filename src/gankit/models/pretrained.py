"""A folder is a model (diffusers' ``save_pretrained`` / ``from_pretrained``)::

    folder/config.json        {"format": "gankit-network", "version": 1, "network": {"class", "args",
                              "spectral_norm"}, "gankit_version", ...extra (data spec, training config)}
    folder/model.safetensors  the weights
    folder/README.md          a model card

``from_pretrained`` also takes a Hugging Face Hub id (``"user/name"``), fetched with
``huggingface_hub.snapshot_download`` (``pip install 'gankit[hub]'``; ``HF_HUB_OFFLINE=1`` reads the
local hub cache only), and ``push_to_hub`` uploads the same folder. The folder layout is the one
``huggingface_hub.PyTorchModelHubMixin`` uses (config.json + model.safetensors), written here so that
the hub library stays an optional extra rather than a base class every model needs at import time.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import GankitError
from ..utils.io import load_weights, save_weights, write_json

FORMAT, VERSION = "gankit-network", 1
CONFIG, WEIGHTS, CARD = "config.json", "model.safetensors", "README.md"


def save_pretrained(model, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (a :class:`~gankit.models.network.ConfigMixin` network) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    network = model.network_config()
    save_weights(model, folder / WEIGHTS)
    write_json(folder / CONFIG, {"format": FORMAT, "version": VERSION, "network": network,
                                 "gankit_version": __version__, **(extra or {})})
    (folder / CARD).write_text(_model_card(network, extra or {}))
    return folder


def _model_card(network: dict, extra: dict) -> str:
    args = "\n".join(f"| `{k}` | `{json.dumps(v)}` |" for k, v in network["args"].items())
    data = extra.get("data_spec")
    return (f"---\nlibrary_name: gankit\ntags:\n- gan\n- gankit\n---\n\n# {network['class']}\n\n"
            f"A gankit network (`{network['class']}`{', spectral norm' if network['spectral_norm'] else ''}). "
            f"Load it with:\n\n```python\nfrom gankit.models import from_pretrained\n"
            f"G = from_pretrained(\"PATH_OR_HUB_ID\")\n```\n\n"
            + (f"Data: shape {tuple(data['shape'])}, {data['num_classes']} classes, {data['kind']}.\n\n" if data else "")
            + f"| argument | value |\n| --- | --- |\n{args}\n")


def _hub():
    try:
        import huggingface_hub
    except ImportError:
        raise GankitError("the Hugging Face Hub needs the hub extra: pip install 'gankit[hub]'") from None
    return huggingface_hub


def resolve(name_or_path: str | Path, revision: str | None = None, cache_dir: str | Path | None = None) -> Path:
    """A local folder as it is, or a hub id (``user/name``) downloaded into the hub cache."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    name = str(name_or_path)
    if name.count("/") != 1 or path.exists():
        raise GankitError(f"{name!r} is neither a model folder nor a Hugging Face Hub id (user/name)")
    hub = _hub()
    try:
        return Path(hub.snapshot_download(name, revision=revision, cache_dir=cache_dir,
                                          allow_patterns=[CONFIG, WEIGHTS, CARD]))
    except Exception as e:  # offline without a cached copy, unknown repository, network errors
        raise GankitError(f"cannot fetch {name!r} from the Hugging Face Hub: {str(e).splitlines()[0]}") from None


def read_config(folder: Path) -> dict:
    try:
        config = json.loads((folder / CONFIG).read_text())
    except (OSError, ValueError) as e:
        raise GankitError(f"{folder} is not a gankit model folder ({CONFIG}: {e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT or "network" not in config:
        raise GankitError(f"{folder / CONFIG} is not a gankit network config (format {FORMAT!r}); "
                          f"for a training run directory use gankit.load(RUN)")
    return config


def from_pretrained(name_or_path: str | Path, device="cpu", revision: str | None = None,
                    cache_dir: str | Path | None = None):
    """The network saved by :func:`save_pretrained` in a folder (or on the hub), in eval mode,
    with its folder's config as ``.pretrained_config``."""
    from .network import build_network

    folder = resolve(name_or_path, revision, cache_dir)
    config = read_config(folder)
    try:
        model = build_network(config["network"])
    except (ValueError, TypeError, KeyError) as e:
        raise GankitError(f"{folder / CONFIG} describes no network gankit can build: {e}") from None
    load_weights(model, folder / WEIGHTS, device)
    model.pretrained_config = config
    return model.to(device).eval()


def push_to_hub(model, repo_id: str, *, private: bool | None = None, token: str | None = None,
                commit_message: str = "Upload gankit network", extra: dict[str, Any] | None = None) -> str:
    """Save ``model`` to a temporary folder and upload it to the hub repository ``repo_id``."""
    hub = _hub()
    api = hub.HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(model, tmp, extra)
        info = api.upload_folder(repo_id=repo_id, folder_path=tmp, commit_message=commit_message)
    return str(getattr(info, "commit_url", info))
