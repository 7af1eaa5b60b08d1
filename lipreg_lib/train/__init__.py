"""Training engine: configuration, schedule, checkpoints, provenance and the loop."""

from .checkpoint import CheckpointError, atomic_write, load_checkpoint, save_checkpoint, write_json
from .config import TrainConfig
from .engine import CHECKPOINT, RUN_JSON, TrainResult, build_model, load_run, resolve_device, train
from .provenance import provenance
from .schedule import learning_rate

__all__ = [
    "CHECKPOINT", "RUN_JSON", "CheckpointError", "TrainConfig", "TrainResult", "atomic_write", "build_model",
    "learning_rate", "load_checkpoint", "load_run", "provenance", "resolve_device", "save_checkpoint", "train", "write_json",
]
