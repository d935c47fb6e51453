"""The Inception-v3 network used by FID (Heusel et al. 2017), as in the original TensorFlow code.

FID and Inception Score are defined on one specific network: the ``inception-2015-12-05`` graph
that TensorFlow's reference FID code loads. pytorch-fid and torch-fidelity ported it to PyTorch;
its weights are the file ``pt_inception-2015-12-05-6726825d.pth``. The graph is Inception-v3
(Szegedy et al. 2016) with three differences from torchvision's model, all reproduced here:

* 1008 classes in the final layer (the 2015 graph's label map), not 1000;
* the 3x3/stride-1 average pools inside the mixed blocks (Mixed_5b..5d, 6b..6e, 7b) do not count
  the zero padding (TensorFlow's ``SAME`` average pooling, ``count_include_pad=False``);
* the last block (Mixed_7c) pools its fourth branch with a 3x3 *max* pool instead of an average.

Inputs are resized to 299x299 with bilinear interpolation (``align_corners=False``), as
pytorch-fid does with ``resize_input=True``, and must be in [-1, 1] (gankit's convention: the
generator ends in tanh), which is the range the network was trained on. Thus
``FIDInceptionV3()(x) == pytorch_fid.InceptionV3()((x + 1) / 2)`` for the same weights.

The weights are downloaded only when asked (``gankit evaluate --extractor inception
--download-weights``): :func:`find_inception_weights` looks for the file locally and, when it is
absent, fetches it with ``download=True`` (checked against the SHA-256 of the file pytorch-fid
publishes, then read with ``torch.load(weights_only=True)``) or says where to get it.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import GankitError
from .weights import download_weights, weights_dir

__all__ = [
    "INCEPTION_WEIGHTS_ENV",
    "INCEPTION_WEIGHTS_FILE",
    "INCEPTION_WEIGHTS_URL",
    "INCEPTION_WEIGHTS_SHA256",
    "FIDInceptionV3",
    "InceptionWeightsError",
    "InceptionWeightsNotFound",
    "find_inception_weights",
    "load_inception",
]

INCEPTION_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                         + INCEPTION_WEIGHTS_FILE)
INCEPTION_WEIGHTS_ENV = "GANKIT_INCEPTION_WEIGHTS"
#: SHA-256 of pytorch-fid's file (95,628,359 bytes; the file name carries its first 8 hex digits)
INCEPTION_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"

INPUT_SIZE = 299
POOL_DIM = 2048
NUM_LOGITS = 1008


class InceptionWeightsNotFound(GankitError, FileNotFoundError):
    """The Inception weights file is not on this machine (the message says where to get it)."""


class InceptionWeightsError(GankitError, ValueError):
    """The weights file exists but is not a plain state dict of this network."""


# --------------------------------------------------------------------------------------------
# Building blocks. Module names follow the TF-port state dict (``<block>.<branch>.conv/bn``).


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3, as in the TF graph), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _same_pool3x3(x: Tensor, kind: str) -> Tensor:
    """3x3, stride 1, 'SAME' pooling as TensorFlow does it: padding never enters an average."""
    if kind == "max":
        return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _conv1xk(cin: int, cout: int, k: int) -> BasicConv2d:
    return BasicConv2d(cin, cout, (1, k), padding=(0, k // 2))


def _convkx1(cin: int, cout: int, k: int) -> BasicConv2d:
    return BasicConv2d(cin, cout, (k, 1), padding=(k // 2, 0))


class MixedA(nn.Module):
    """35x35 block (Mixed_5b..5d): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1."""

    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, 1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_same_pool3x3(x, "avg"))
        return torch.cat([self.branch1x1(x), b5, b3, bp], dim=1)


class ReductionB(nn.Module):
    """35x35 -> 17x17 (Mixed_6a): 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, F.max_pool2d(x, kernel_size=3, stride=2)], dim=1)


class MixedC(nn.Module):
    """17x17 block (Mixed_6b..6e) with factorised 7x7 convolutions and an avgpool branch."""

    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7_2 = _conv1xk(c7, c7, 7)
        self.branch7x7_3 = _convkx1(c7, 192, 7)
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7dbl_2 = _convkx1(c7, c7, 7)
        self.branch7x7dbl_3 = _conv1xk(c7, c7, 7)
        self.branch7x7dbl_4 = _convkx1(c7, c7, 7)
        self.branch7x7dbl_5 = _conv1xk(c7, 192, 7)
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                      self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(_same_pool3x3(x, "avg"))
        return torch.cat([self.branch1x1(x), b7, bd, bp], dim=1)


class ReductionD(nn.Module):
    """17x17 -> 8x8 (Mixed_7a): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7x3_2 = _conv1xk(192, 192, 7)
        self.branch7x7x3_3 = _convkx1(192, 192, 7)
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = x
        for layer in (self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3,
                      self.branch7x7x3_4):
            b7 = layer(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], dim=1)


class MixedE(nn.Module):
    """8x8 block (Mixed_7b, 7c) with split 1x3/3x1 outputs; ``pool`` is 'avg' or 'max'.

    The TF graph uses an average pool in Mixed_7b and a max pool in Mixed_7c.
    """

    def __init__(self, in_channels: int, pool: str):
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', not {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(in_channels, 320, 1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, 1)
        self.branch3x3_2a = _conv1xk(384, 384, 3)
        self.branch3x3_2b = _convkx1(384, 384, 3)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _conv1xk(384, 384, 3)
        self.branch3x3dbl_3b = _convkx1(384, 384, 3)
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], dim=1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], dim=1)
        bp = self.branch_pool(_same_pool3x3(x, self.pool))
        return torch.cat([self.branch1x1(x), b3, bd, bp], dim=1)

    def extra_repr(self) -> str:
        return f"pool={self.pool}"


# --------------------------------------------------------------------------------------------


class FIDInceptionV3(nn.Module):
    """Inception-v3 as in TensorFlow's FID code, returning pool-3 features and 1008 logits.

    ``forward(x)`` takes images in [-1, 1] of shape (N, C, H, W), C = 1 (repeated to RGB) or 3,
    of any size (resized to 299x299 bilinearly), and returns
    ``{"pool": (N, 2048), "logits": (N, 1008), "logits_unbiased": (N, 1008)}``. FID uses "pool";
    Inception Score the softmax of "logits_unbiased" = ``pool @ fc.weight.T`` (the 2015 graph's
    ``softmax/logits/MatMul`` without its bias, as Salimans et al.'s code and torch-fidelity read
    it) or of "logits" (fc with bias, as pytorch-fid's and StudioGAN's torchvision-style fc).

    A freshly built model has random weights (a variance-preserving init, so activations stay
    O(1)); use :func:`load_inception` for the real ones. The state dict matches the
    ``pt_inception-2015-12-05`` file key for key.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = MixedA(192, pool_features=32)
        self.Mixed_5c = MixedA(256, pool_features=64)
        self.Mixed_5d = MixedA(288, pool_features=64)
        self.Mixed_6a = ReductionB(288)
        self.Mixed_6b = MixedC(768, channels_7x7=128)
        self.Mixed_6c = MixedC(768, channels_7x7=160)
        self.Mixed_6d = MixedC(768, channels_7x7=160)
        self.Mixed_6e = MixedC(768, channels_7x7=192)
        self.Mixed_7a = ReductionD(768)
        self.Mixed_7b = MixedE(1280, pool="avg")
        self.Mixed_7c = MixedE(2048, pool="max")
        self.fc = nn.Linear(POOL_DIM, NUM_LOGITS)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Random weights that keep activations O(1): He-normal convs, identity batch norms."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()
        nn.init.normal_(self.fc.weight, std=POOL_DIM ** -0.5)
        nn.init.zeros_(self.fc.bias)

    def preprocess(self, x: Tensor) -> Tensor:
        """Check shape and dtype, repeat grayscale to RGB, resize to 299x299 (bilinear)."""
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"FIDInceptionV3 expects images of shape (N, 1 or 3, H, W), "
                             f"got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"FIDInceptionV3 expects float images in [-1, 1], got {x.dtype}; "
                            f"convert uint8 images with x.float() / 127.5 - 1")
        x = x.to(self.fc.weight.dtype)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                              align_corners=False)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    @torch.no_grad()
    def for_inference(self) -> "FIDInceptionV3":
        """A frozen copy for feature extraction: each batch norm folded into its convolution
        (w·γ/√(σ²+ε), bias β − μ·γ/√(σ²+ε)) and the model in channels-last. The same features within
        2e-6 (tests/test_inception.py), 1.7x faster than pytorch-fid on the CPU (docs/benchmarks.md);
        this model is left as it is."""
        import copy

        model = copy.deepcopy(self).eval().requires_grad_(False)
        for block in model.modules():
            if isinstance(block, BasicConv2d) and isinstance(block.bn, nn.BatchNorm2d):
                conv, bn = block.conv, block.bn
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                                  bias=True).to(conv.weight.device, conv.weight.dtype)
                fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
                fused.bias.copy_(bn.bias - bn.running_mean * scale)
                block.conv, block.bn = fused.requires_grad_(False), nn.Identity()
        return model.to(memory_format=torch.channels_last)

    @property
    def channels_last(self) -> bool:
        """Whether the model is in channels-last (NHWC) memory format (``model.to(memory_format=
        torch.channels_last)``): inputs then follow, and oneDNN runs the convolutions ~1.7x faster on
        the CPU, with features within 2e-6 of the NCHW model's (tests/test_inception.py)."""
        w = self.Conv2d_1a_3x3.conv.weight
        return w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x = self.preprocess(x)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                      self.Mixed_7c):
            x = block(x)
        pool = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return {"pool": pool, "logits": self.fc(pool), "logits_unbiased": pool @ self.fc.weight.T}


# --------------------------------------------------------------------------------------------
# Finding and loading the weights file.


def _hub_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE


def _resolve(candidate: str | os.PathLike) -> Path:
    """A file path, or a folder that holds the standard file."""
    p = Path(candidate).expanduser()
    return p / INCEPTION_WEIGHTS_FILE if p.is_dir() else p


def find_inception_weights(path: str | os.PathLike | None = None, download: bool = False) -> Path:
    """Where the FID Inception weights are: ``path`` if given (a file, or a folder holding
    ``pt_inception-2015-12-05-6726825d.pth``), else ``$GANKIT_INCEPTION_WEIGHTS``, else
    ``torch.hub.get_dir()/checkpoints/`` (where pytorch-fid caches its download).

    An explicit ``path`` is authoritative: if it does not exist the search stops there, so a
    typo never silently picks up another file. Then gankit's download cache
    (``$GANKIT_WEIGHTS`` or ``~/.cache/gankit/weights``). Not found: with ``download``, the file is
    fetched from ``INCEPTION_WEIGHTS_URL`` into that cache and checked against
    ``INCEPTION_WEIGHTS_SHA256``; without, raises :class:`InceptionWeightsNotFound` (a
    ``FileNotFoundError``) naming the file, the places looked at, the download and the offline options.
    """
    looked: list[str] = []
    if path is not None and str(path) != "":
        p = _resolve(path)
        if p.is_file():
            return p
        looked.append(f"{p} (given path)")
    else:
        env = os.environ.get(INCEPTION_WEIGHTS_ENV, "").strip()
        if env:
            p = _resolve(env)
            if p.is_file():
                return p
            looked.append(f"{p} (${INCEPTION_WEIGHTS_ENV})")
        for p, where in ((_hub_weights_path(), "torch hub cache"), (weights_dir() / INCEPTION_WEIGHTS_FILE,
                                                                      "gankit download cache")):
            if p.is_file():
                return p
            looked.append(f"{p} ({where})")
        if download:
            return download_weights(INCEPTION_WEIGHTS_URL, INCEPTION_WEIGHTS_SHA256,
                                    weights_dir() / INCEPTION_WEIGHTS_FILE)
    raise InceptionWeightsNotFound(
        f"FID Inception weights {INCEPTION_WEIGHTS_FILE} not found (looked at: "
        f"{'; '.join(looked)}); pass --download-weights to fetch it (91 MB, SHA-256 checked), or download "
        f"{INCEPTION_WEIGHTS_URL} yourself and pass --inception-weights PATH (or set {INCEPTION_WEIGHTS_ENV}); "
        f"offline, use --extractor pixels or a LeNet from `gankit train-evaluator` (--evaluator DIR)")


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    """Tensors only: safetensors, or torch.load with weights_only=True (no arbitrary objects)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as e:  # safetensors raises its own error types
            raise InceptionWeightsError(f"cannot read Inception weights {path}: {e}") from e
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message is several lines of advice; keep only the reason it names.
        tail = str(e).partition("WeightsUnpickler error:")[2]
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        reason = lines[0].split(" Please ")[0] if lines else ""
        raise InceptionWeightsError(
            f"refusing to load {path}: it is not a plain tensor state dict and gankit never "
            f"unpickles arbitrary objects (torch.load weights_only=True)"
            + (f"; {reason}" if reason else "")) from e
    except (RuntimeError, EOFError, OSError) as e:
        why = " ".join(f"{type(e).__name__}: {e}".split()).rstrip(":")
        raise InceptionWeightsError(f"cannot read Inception weights {path} (truncated or not a "
                                    f"torch file?): {why}") from e
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not (isinstance(obj, Mapping)
            and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())):
        raise InceptionWeightsError(f"{path} does not hold a state dict of tensors "
                                    f"(got {type(obj).__name__})")
    return dict(obj)


def load_inception(path: str | os.PathLike | None = None,
                   device: str | torch.device = "cpu", download: bool = False) -> FIDInceptionV3:
    """The FID Inception network with the standard weights, in eval mode, without gradients.

    ``path`` is searched (and, with ``download``, fetched) as in :func:`find_inception_weights`. ``.safetensors`` files are read
    with safetensors, anything else with ``torch.load(weights_only=True)``; the keys must match
    the network exactly (``num_batches_tracked`` counters may be absent).
    """
    file = find_inception_weights(path, download)
    state = _read_state_dict(file)
    model = FIDInceptionV3()
    # The counters only matter for training; files stripped of them are still exact.
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(value)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        msg = " ".join(str(e).split())
        if len(msg) > 400:
            msg = msg[:400] + " ..."
        raise InceptionWeightsError(
            f"{file} is not the FID Inception-v3 state dict ({INCEPTION_WEIGHTS_FILE}): {msg}") from e
    model.eval().requires_grad_(False)
    return model.to(device)
