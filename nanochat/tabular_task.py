"""The evaluation task: a table row as a token sequence whose label is read at a query position.

Layout of one sequence (docs/EVIDENCE.md):

    position  0 .. P-1   feature p's value bin (0 .. n_bins-1): the token says only *which bin*,
                         never which feature, so a feature's identity is its position alone
    position  P          the query token; the label is predicted here (the only loss position)

Why this shape: if a token named its feature (the first design), a bag-of-tokens model solves the
task and attention structure is irrelevant. Here the model must attend from the query to the right
positions, which is exactly what a prior over positions can help with. The query has its own row
of the prior (rap_core.eval_priors.with_query_row).

Vocabulary: bins 0..n_bins-1, the query token n_bins, the two label tokens n_bins+1 (negative)
and n_bins+2 (positive). Torch only; the rows arrive already binned (rap_core.eval_task).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def vocab_size(n_bins: int) -> int:
    return n_bins + 3


def label_base(n_bins: int) -> int:
    return n_bins + 1


def sequences(tokens: torch.Tensor, y: torch.Tensor, n_bins: int):
    """(idx (n, P+1), targets (n, P+1)): bins, then the query; target only at the query."""
    n = tokens.size(0)
    query = torch.full((n, 1), n_bins, dtype=torch.long)
    idx = torch.cat([tokens.long(), query], dim=1)
    targets = torch.full_like(idx, -1)
    targets[:, -1] = label_base(n_bins) + y.long()
    return idx, targets


def auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve (Mann–Whitney, ties counted half); NaN with one class only."""
    scores, labels = scores.double().flatten(), labels.flatten().bool()
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = torch.argsort(scores)
    sorted_scores = scores[order]
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    # average ranks over ties
    unique, inverse, counts = torch.unique(sorted_scores, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    mean_rank = ends - (counts.double() - 1) / 2
    ranks[order] = mean_rank[inverse]
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@torch.no_grad()
def label_metrics(model, idx: torch.Tensor, targets: torch.Tensor, base: int,
                  batch: int = 256) -> dict:
    """Loss, accuracy and AUC of the label prediction at the last position, whose two label
    tokens are `base` (negative) and `base + 1` (positive): `label_base(n_bins)` here,
    P * bins in dev/train_rap.py's feature-named tokens."""
    logits = torch.cat([model(idx[i:i + batch])[:, -1, base:base + 2]
                        for i in range(0, idx.size(0), batch)])
    labels = targets[:, -1] - base
    loss = F.cross_entropy(logits, labels).item()
    acc = (logits.argmax(-1) == labels).float().mean().item()
    return {"loss": loss, "acc": acc, "auc": auc(logits[:, 1] - logits[:, 0], labels)}
