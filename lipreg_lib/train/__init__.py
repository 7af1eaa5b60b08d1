"""Training engine: configuration, schedule, checkpoints and the loop."""

from .checkpoint import CheckpointError, config_differences, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .engine import CHECKPOINT, RUN_JSON, TrainResult, build_model, check_fits, load_run, train
from .schedule import learning_rate

__all__ = [
    "CHECKPOINT", "RUN_JSON", "CheckpointError", "TrainConfig", "TrainResult", "build_model", "check_fits",
    "config_differences", "learning_rate", "load_checkpoint", "load_run", "save_checkpoint", "train",
]
