"""Objectives (chosen by name) and regularisers."""
from .objectives import OBJECTIVES, Objective, build_objective
from .regularizers import gradient_penalty, r1_penalty

__all__ = ["OBJECTIVES", "Objective", "build_objective", "gradient_penalty", "r1_penalty"]
