"""Foundation-model extractors: DINOv2 ViT-L/14 for FD-DINOv2, CLIP ViT-L/14@336px for CMMD.

* ``dinov2`` (Stein et al. 2023, "Exposing flaws of generative model evaluation metrics", §5:
  the Fréchet distance in DINOv2 ViT-L/14 space tracks human judgement where Inception does
  not). Architecture from timm (``vit_large_patch14_dinov2``, the well-kept port of Oquab et
  al.'s model that loads Meta's checkpoint); preprocessing as torch-fidelity 0.4's
  ``dinov2-vit-l-14``: RGB in [0, 255], TensorFlow-1 bilinear resize to 224, ImageNet mean/std;
  the feature is the final-norm CLS token (1024). The position embedding is resampled once at
  load from 37x37 to 16x16 as Meta's model does at every 224 px forward (bicubic, no
  antialiasing, scale (16 + 0.1) / 37).
* ``clip`` (Jayasumana et al. 2024, "Rethinking FID", §4): CLIP ViT-L/14@336px image
  embeddings divided by their norm, the input of CMMD. Architecture from open_clip (the
  reference re-implementation of OpenAI's CLIP, which reads OpenAI's released file);
  preprocessing as CMMD's code: bicubic resize to 336, [0, 1], CLIP mean/std.

Weights are never fetched unless asked: pass a local file (``weights``), or ``download=True``
for the published URL, checked against its SHA-256 before use (:func:`gankit.metrics.weights.download_weights`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import GankitError
from ..utils.io import file_digest
from .features import FeatureExtractor, state_hash
from .weights import download_weights, weights_dir

__all__ = ["WEIGHTS", "WeightSpec", "tf1_bilinear_resize", "DinoV2Extractor", "CLIPExtractor",
           "build_foundation_extractor"]


@dataclass(frozen=True)
class WeightSpec:
    url: str
    sha256: str | None      # None: the publisher gives no hash
    file: str


WEIGHTS = {
    # Meta publishes no checksum for this file (github.com/facebookresearch/dinov2, hubconf).
    "dinov2": WeightSpec("https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth",
                         None, "dinov2_vitl14_pretrain.pth"),
    # OpenAI's CLIP (clip/clip.py) publishes the SHA-256 in the URL and checks it; so does torch-fidelity.
    "clip": WeightSpec("https://openaipublic.azureedge.net/clip/models/3035c92b350959924f9f00213499208652fc7ea0"
                       "50643e8b385c2dac08641f02/ViT-L-14-336px.pt",
                       "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02", "ViT-L-14-336px.pt"),
}


def _resolve_weights(name: str, weights, download: bool) -> Path:
    spec = WEIGHTS[name]
    if weights is not None:
        p = Path(weights).expanduser()
        if not p.is_file():
            raise GankitError(f"--weights {p}: no such file (the {name} weights, {spec.file})")
        return p
    if download:
        return download_weights(spec.url, spec.sha256, weights_dir() / spec.file)
    raise GankitError(f"the {name} extractor needs its weights: pass --weights PATH ({spec.file}, from "
                      f"{spec.url}) or --download-weights")


def tf1_bilinear_resize(x: Tensor, size: int) -> Tensor:
    """Bilinear resize as TensorFlow 1's ``resize_bilinear(align_corners=False)``: source
    coordinate ``i · in / out`` (no half-pixel shift), as torch-fidelity's resize."""
    for dim in (2, 3):
        n = x.shape[dim]
        src = torch.arange(size, dtype=torch.float64) * (n / size)
        lo = src.floor().long().clamp(max=n - 1)
        hi = (lo + 1).clamp(max=n - 1)
        w = (src - lo).to(x.dtype)
        shape = [1, 1, 1, 1]
        shape[dim] = size
        a, b = x.index_select(dim, lo.to(x.device)), x.index_select(dim, hi.to(x.device))
        x = a + (b - a) * w.to(x.device).view(shape)
    return x


def _rgb255(x: Tensor) -> Tensor:
    x = (x + 1) * 127.5  # gankit's [-1, 1] back to [0, 255]
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


class DinoV2Extractor(FeatureExtractor):
    """DINOv2 CLS features (FD-DINOv2); ``model`` maps 224x224 normalised RGB to (N, D)."""

    name = "dinov2"
    batch_size = 32
    _MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def __init__(self, model: nn.Module, device: str | torch.device = "cpu", identity: str | None = None):
        super().__init__(device)
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.identity = identity or state_hash(model)

    def _forward(self, x: Tensor) -> tuple[Tensor, None]:
        x = tf1_bilinear_resize(_rgb255(x), 224)
        mean = torch.tensor(self._MEAN, device=x.device).view(1, 3, 1, 1) * 255
        std = torch.tensor(self._STD, device=x.device).view(1, 3, 1, 1) * 255
        return self.model((x - mean) / std), None


class CLIPExtractor(FeatureExtractor):
    """Unit-norm CLIP image embeddings (CMMD); ``model.encode_image`` takes 336x336 inputs."""

    name = "clip"
    batch_size = 32
    _MEAN, _STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)

    def __init__(self, model: nn.Module, device: str | torch.device = "cpu", identity: str | None = None,
                 size: int = 336):
        super().__init__(device)
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.identity = identity or state_hash(model)
        self.size = size

    def _forward(self, x: Tensor) -> tuple[Tensor, None]:
        x = (_rgb255(x) / 255).clamp(0, 1)
        x = F.interpolate(x, size=(self.size, self.size), mode="bicubic", antialias=True, align_corners=False)
        mean = torch.tensor(self._MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self._STD, device=x.device).view(1, 3, 1, 1)
        e = self.model.encode_image((x.clamp(0, 1) - mean) / std).float()
        return e / e.norm(dim=1, keepdim=True), None


def dinov2_model(state: dict | None = None, **timm_kwargs) -> nn.Module:
    """timm's DINOv2 ViT-L/14 at 224 px (``timm_kwargs`` override the architecture, for tests),
    with Meta's checkpoint ``state`` loaded when given."""
    try:
        import timm
    except ImportError:
        raise GankitError("the dinov2 extractor needs timm: pip install 'gankit[foundation]'") from None
    model = timm.create_model("vit_large_patch14_dinov2", pretrained=False, img_size=224, num_classes=0,
                              **timm_kwargs)
    if state is not None:
        from timm.models.vision_transformer import checkpoint_filter_fn

        pos = state["pos_embed"]
        old = int((pos.shape[1] - 1) ** 0.5)
        new = 224 // 14
        grid = pos[:, 1:].reshape(1, old, old, -1).permute(0, 3, 1, 2).float()
        grid = F.interpolate(grid, scale_factor=((new + 0.1) / old,) * 2, mode="bicubic", antialias=False)
        state = {**state, "pos_embed": torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, new * new, -1)], 1)}
        model.load_state_dict(checkpoint_filter_fn(state, model), strict=True)
    return model


def build_foundation_extractor(name: str, *, weights=None, download: bool = False,
                               device: str | torch.device = "cpu") -> FeatureExtractor:
    """The ``dinov2`` or ``clip`` extractor with real weights (a local file or a checked download)."""
    file = _resolve_weights(name, weights, download)
    identity = file_digest(file)[:16]
    if name == "dinov2":
        state = torch.load(file, map_location="cpu", weights_only=True)
        return DinoV2Extractor(dinov2_model(state), device, identity)
    try:
        import open_clip
    except ImportError:
        raise GankitError("the clip extractor needs open_clip: pip install 'gankit[foundation]'") from None
    model = open_clip.load_openai_model(str(file), precision="fp32", device="cpu")
    size = model.visual.image_size
    return CLIPExtractor(model, device, identity, size=size[0] if isinstance(size, tuple) else int(size))
