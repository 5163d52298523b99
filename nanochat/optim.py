"""Muon for matrices + AdamW for everything else, behind one optimizer-like object.

torch >= 2.9 ships `torch.optim.Muon` (Newton–Schulz orthogonalised momentum, 2-D parameters
only), so we use it rather than writing our own. A 0-D/1-D parameter handed to Muon is a bug
(nanochat's own Muon raises IndexError on a (1,) gate), so `MuonAdamW` refuses it up front.

Each group is a dict with kind="muon" or kind="adamw"; `param_groups` lists the live group dicts
of both inner optimizers, so a learning-rate schedule can write group["lr"] as usual.
"""

from __future__ import annotations

import torch


class MuonAdamW:
    def __init__(self, groups: list[dict]):
        muon, adamw = [], []
        for group in groups:
            group = dict(group)
            kind = group.pop("kind")
            if kind == "muon":
                bad = [tuple(p.shape) for p in group["params"] if p.ndim != 2]
                if bad:
                    raise ValueError(f"Muon takes 2-D matrices only, got shapes {bad}")
                muon.append(group)
            elif kind == "adamw":
                adamw.append(group)
            else:
                raise ValueError(f"unknown optimizer group kind {kind!r} (muon or adamw)")
        self.muon = torch.optim.Muon(muon) if muon else None
        self.adamw = torch.optim.AdamW(adamw, fused=False) if adamw else None
        self._inner = [opt for opt in (self.muon, self.adamw) if opt is not None]

    @property
    def param_groups(self) -> list[dict]:
        return [group for opt in self._inner for group in opt.param_groups]

    def step(self):
        for opt in self._inner:
            opt.step()

    def zero_grad(self, set_to_none: bool = True):
        for opt in self._inner:
            opt.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"muon": self.muon.state_dict() if self.muon else None,
                "adamw": self.adamw.state_dict() if self.adamw else None}

    def load_state_dict(self, state: dict):
        if self.muon:
            self.muon.load_state_dict(state["muon"])
        if self.adamw:
            self.adamw.load_state_dict(state["adamw"])
