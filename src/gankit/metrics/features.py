"""Feature extractors behind one interface: images in [-1, 1] -> features (+ class logits).

Every metric is computed from one pass of an extractor over the images:

* ``lenet``: a gankit-trained evaluator (:mod:`gankit.metrics.lenet`), penultimate activations
  and class logits; the offline, domain-specific choice. Images whose channel count is a
  multiple k ≤ 3 of the evaluator's (Stacked MNIST: 3 digits as R, G, B) are read channel by
  channel: features are concatenated and the K^k joint classes get log-probabilities
  Σ_c log p_c(d_c), class index d_0·K^(k-1) + ... + d_(k-1) (the first channel most significant);
* ``inception``: the FID Inception-v3 (:mod:`gankit.metrics.inception`), pool3 (2048) features
  and 1008 logits: the standard, comparable-across-papers choice;
* ``pixels``: the flattened pixels themselves, no logits (a weights-free baseline for tests).

``identity`` names the weights (a hash), so cached reference statistics never mix extractors.
"""
from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FeatureExtractor", "LeNetExtractor", "InceptionExtractor", "PixelExtractor",
           "clean_resize", "state_hash", "IS_LOGITS", "RESIZE_MODES"]


class FeatureExtractor:
    """``extract(images)`` -> ``{"features": (N, D) float32[, "logits": (N, C) float32]}`` on the CPU."""

    name = "base"
    identity = ""
    num_classes = 0          # 0: no logits
    batch_size = 256

    def __init__(self, device: str | torch.device = "cpu"):
        self.device = torch.device(device)

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def key(self) -> str:
        """The extractor part of a cache key: name and weights identity."""
        return f"{self.name}-{self.identity}" if self.identity else self.name

    @torch.no_grad()
    def extract(self, images: Tensor | Iterable[Tensor]) -> dict[str, Tensor]:
        """Features (and logits) of ``images``: one tensor (batched here) or an iterable of batches."""
        batches = images.split(self.batch_size) if isinstance(images, Tensor) else images
        feats, logits = [], []
        for x in batches:
            if x.dtype == torch.uint8:
                x = x.float().div(127.5).sub(1.0)
            f, lg = self._forward(x.to(self.device, torch.float32))
            feats.append(f.float().cpu())
            if lg is not None:
                logits.append(lg.float().cpu())
        if not feats:
            raise ValueError("extract: no images")
        out = {"features": torch.cat(feats)}
        if logits:
            out["logits"] = torch.cat(logits)
        return out


class LeNetExtractor(FeatureExtractor):
    """Penultimate features and logits of a gankit evaluator (see :mod:`gankit.metrics.lenet`).

    It runs a channels-last copy of ``model`` on channels-last inputs: 1.4x the images per CPU-second
    of NCHW on one thread (docs/benchmarks.md), features within 1e-6 (tests/test_performance.py); the
    caller's model is left as it was."""

    name = "lenet"

    def __init__(self, model: nn.Module, device: str | torch.device = "cpu"):
        super().__init__(device)
        self.identity = getattr(model, "identity", "") or state_hash(model)
        self.model = copy.deepcopy(model).to(self.device, memory_format=torch.channels_last).eval()
        self.model.requires_grad_(False)
        self.num_classes = model.num_classes

    def channel_groups(self, channels: int) -> int:
        """How many evaluator-sized channel groups an image of ``channels`` channels holds."""
        c = self.model.in_channels
        k = channels // c
        if channels % c or not 1 <= k <= 3:
            raise ValueError(f"the evaluator reads {c}-channel images; got {channels} channels "
                             f"(only 1 to 3 stacked groups are supported)")
        return k

    def joint_classes(self, channels: int) -> int:
        return self.num_classes ** self.channel_groups(channels)

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        k = self.channel_groups(x.shape[1])
        size = self.model.image_size
        if x.shape[-2:] != (size, size):  # real and fake go through the same resize
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        x = x.contiguous(memory_format=torch.channels_last)
        if k == 1:
            h = self.model.features(x)
            return h, self.model.classify(h)
        feats, logp = [], None
        for part in x.split(self.model.in_channels, dim=1):
            h = self.model.features(part)
            feats.append(h)
            lp = F.log_softmax(self.model.classify(h), dim=1)
            logp = lp if logp is None else (logp[:, :, None] + lp[:, None, :]).flatten(1)
        return torch.cat(feats, dim=1), logp


IS_LOGITS = ("unbiased", "biased")
#: How images reach Inception's 299x299 input. ``legacy-pytorch-fid`` (default, comparable with
#: pytorch-fid and most published FIDs): ``F.interpolate`` bilinear, ``align_corners=False``, no
#: antialiasing, on the float images. ``clean`` (Parmar et al. 2022, clean-fid's default mode):
#: images quantised to uint8 as if saved, then each channel resized by PIL's bicubic filter in
#: float ('F' mode, antialiased), clipped to [0, 255], not re-quantised.
RESIZE_MODES = ("legacy-pytorch-fid", "clean")


def clean_resize(x: Tensor, size: int) -> Tensor:
    """clean-fid's ``clean`` resize of images in [-1, 1] to ``size`` x ``size``, back in [-1, 1]."""
    import numpy as np
    from PIL import Image

    u8 = ((x.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    out = np.empty((*u8.shape[:2], size, size), dtype=np.float32)
    for i, img in enumerate(u8):
        for c, ch in enumerate(img):
            r = Image.fromarray(ch.astype(np.float32), mode="F").resize((size, size), resample=Image.BICUBIC)
            out[i, c] = np.asarray(r).clip(0, 255)
    return torch.from_numpy(out).div_(127.5).sub_(1.0).to(x.device)


class InceptionExtractor(FeatureExtractor):
    """Pool3 features and 1008 logits of :class:`~gankit.metrics.inception.FIDInceptionV3`.

    ``is_logits``: ``"unbiased"`` (default) pool3 · Wᵀ, the logits of Salimans et al.'s
    released IS code (it multiplies pool3 by the weight of ``softmax/logits/MatMul`` alone) and
    torch-fidelity's default ``logits_unbiased``: the definition that reproduces published
    Inception Scores; ``"biased"``: fc with bias (pytorch-fid-style ports, StudioGAN's
    torchvision-style Inception). ``resize``: see :data:`RESIZE_MODES`.
    """

    name = "inception"
    batch_size = 50
    num_classes = 1008

    def __init__(self, model: nn.Module, device: str | torch.device = "cpu", identity: str | None = None,
                 is_logits: str = "unbiased", resize: str = "legacy-pytorch-fid"):
        super().__init__(device)
        if is_logits not in IS_LOGITS:
            raise ValueError(f"is_logits must be one of {IS_LOGITS}, not {is_logits!r}")
        if resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}, not {resize!r}")
        model = model.to(self.device).eval().requires_grad_(False)
        # batch norms folded + channels-last: the same features (within 2e-6), 1.7x faster on the CPU
        self.model = model.for_inference() if hasattr(model, "for_inference") else model
        self.is_logits, self.resize = is_logits, resize
        # the logits and the resize change the cached reference: both are part of the identity
        self.identity = "-".join([identity or state_hash(model), {"unbiased": "ub", "biased": "b"}[is_logits]]
                                 + (["clean"] if resize == "clean" else []))

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.resize == "clean":
            x = clean_resize(x, 299)
        out = self.model(x)
        return out["pool"], out["logits_unbiased" if self.is_logits == "unbiased" else "logits"]


class PixelExtractor(FeatureExtractor):
    """The flattened pixels as features (no classifier): FID in pixel space."""

    name = "pixels"
    batch_size = 4096

    def _forward(self, x: Tensor) -> tuple[Tensor, None]:
        return x.flatten(1), None


def state_hash(model: nn.Module) -> str:
    """A short hash of ``model``'s state dict: the identity of weights that carry no name."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
