"""Evaluation: feature extractors and the metrics computed from their features."""
from .cache import FeatureCache, ReferenceFeatures
from .cmmd import cmmd, rbf_mmd2
from .evaluate import evaluate_run, sample_generator
from .extractors import build_extractor
from .features import FeatureExtractor, InceptionExtractor, LeNetExtractor, PixelExtractor
from .frechet import feature_statistics, fid_from_features, frechet_distance
from .inception_score import inception_score
from .kid import kernel_inception_distance, polynomial_mmd2
from .lenet import LeNet, load_evaluator, save_evaluator, train_evaluator, train_lenet
from .modes import class_distribution_kl, class_kl_to_target, count_modes, toy_mode_metrics
from .options import EvalOptions
from .prdc import density_coverage, prdc, precision_recall
from .stacked import stacked_mnist_modes

__all__ = ["frechet_distance", "feature_statistics", "fid_from_features", "kernel_inception_distance",
           "polynomial_mmd2", "cmmd", "rbf_mmd2", "inception_score", "precision_recall", "density_coverage", "prdc",
           "toy_mode_metrics", "class_distribution_kl", "count_modes", "class_kl_to_target",
           "FeatureExtractor", "LeNetExtractor", "InceptionExtractor", "PixelExtractor", "build_extractor",
           "FeatureCache", "ReferenceFeatures", "LeNet", "train_lenet", "train_evaluator", "save_evaluator",
           "load_evaluator", "evaluate_run", "EvalOptions", "sample_generator", "stacked_mnist_modes"]
