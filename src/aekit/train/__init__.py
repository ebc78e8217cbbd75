"""The one Trainer for every model, plus distributed helpers (checkpoints are ``aekit.io`` state files)."""
from ..io import load_state, save_state
from .trainer import Trainer, TrainingDiverged, TrainingInterrupted, resolve_device

__all__ = ["Trainer", "TrainingDiverged", "TrainingInterrupted", "resolve_device", "load_state", "save_state"]
