"""Training: where it runs (`runtime`), the trainer and its step (`trainer`), a whole run with early stopping
and checkpoints (`loop`), and the checkpoints themselves (`checkpoint`)."""

from .loop import TrainResult, train

__all__ = ["TrainResult", "train"]
