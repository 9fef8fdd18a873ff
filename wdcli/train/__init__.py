"""Training: where it runs (`runtime`), the trainer and its step (`trainer`), a whole run as a recipe of set-up,
epochs and finish (`loop`), warm start (`warm`) and the checkpoints (`checkpoint`)."""

from .loop import TrainResult, train

__all__ = ["TrainResult", "train"]
