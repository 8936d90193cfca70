"""LoRA training: teach a local model the documents of a collection.

The pieces, each in its own module (torch, transformers and peft are only
imported by the modules that need them, never by this one):

* :mod:`ragdesk.training.base_model` loads the base model for training (a GGUF
  dequantized by transformers and cached, an HF folder or a hub id) and checks
  that the GGUF the adapter will be applied to matches it;
* :mod:`ragdesk.training.dataset` turns texts and question/answer pairs into
  token examples;
* :mod:`ragdesk.training.trainer` runs the LoRA loop with progress, cancel,
  checkpoints and resume;
* :mod:`ragdesk.training.job` runs it end to end: collection -> data -> train ->
  llama.cpp adapter GGUF -> model registry.
"""

from __future__ import annotations

from ragdesk.errors import RagdeskError

METHODS = ("continued", "qa", "both")


class TrainingError(RagdeskError):
    """A training run cannot start or go on; ``str()`` is a sentence for the user."""


class EmptyCollectionError(TrainingError):
    """The collection has no text to train on."""


class UnknownMethodError(TrainingError):
    """The training method is not one of :data:`METHODS`."""

    def __init__(self, method: str):
        super().__init__(
            f"unknown training method {method!r}; choose one of: {', '.join(METHODS)}"
        )


class BaseModelError(TrainingError):
    """The base model could not be found or loaded."""


class UnsupportedArchitectureError(TrainingError):
    """Adapters cannot be made for the model's architecture (llama.cpp could not run them)."""


class BaseMismatchError(TrainingError):
    """The GGUF the adapter is for is not the model it is trained on."""


class DiskSpaceError(TrainingError):
    """Not enough free disk space to write a checkpoint or the adapter."""


class ResumeError(TrainingError):
    """A run cannot be resumed (no checkpoint, or it was made with other settings)."""


def check_method(method: str) -> str:
    """Return ``method`` if it is known, else raise :class:`UnknownMethodError`."""
    if method not in METHODS:
        raise UnknownMethodError(method)
    return method
