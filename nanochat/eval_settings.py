"""The training recipe of an evaluation run, defined once for both sides of the process boundary.

`rap eval` (rap_core, which never imports torch) writes these settings into each run's job and
cache key; the trainer (`rap_nanochat.evaluation`, torch) reads them back. A dataclass with the
standard library alone, so both sides import the same definition instead of keeping a mirror.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settings:
    """The training recipe shared by every run of an evaluation (part of each run's cache key)."""

    steps: int = 200
    batch: int = 32
    eval_every: int = 20
    patience: int = 8
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 32
    gate_lr: float = 0.02
    threads: int = 1
    alpha_init: float = 3.0  # the gate's start in arms with a learnt gate (the run says)

    @classmethod
    def from_dict(cls, data: dict) -> Settings:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
