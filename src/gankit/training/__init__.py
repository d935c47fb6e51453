from .trainer import Trainer, train

__all__ = ["Trainer", "train"]
