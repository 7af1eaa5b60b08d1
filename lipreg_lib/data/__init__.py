"""Datasets as whole tensors on the device, with batched augmentation (arXiv 1810.00953, App. A)."""

from .augment import augment
from .loader import batches
from .sources import CLASS_NAMES, DATASETS, DataNotFoundError, class_name, default_cache_dir, default_data_dir, display_name, load_dataset, load_npz
from .splits import AUGMENTATIONS, Augmentation, Dataset, Split, to_float

__all__ = [
    "AUGMENTATIONS", "CLASS_NAMES", "DATASETS", "Augmentation", "DataNotFoundError", "Dataset", "Split", "augment", "batches", "class_name",
    "default_cache_dir", "default_data_dir", "display_name", "load_dataset", "load_npz", "to_float",
]
