"""gankit: Generative Adversarial Networks on PyTorch — the GAN family, one trainer, honest metrics."""
__version__ = "0.1.0"

from .config import TrainConfig  # noqa: E402
from .pretrained import load  # noqa: E402
from .training import Trainer, train  # noqa: E402

__all__ = ["TrainConfig", "Trainer", "train", "load", "__version__"]
from . import translation  # noqa: F401
