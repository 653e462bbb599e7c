"""Figures of the text side: prompt embeddings, prototypes, and how the temperature turns their
cosines into probabilities.

seaborn is imported only when a heat map is drawn (it is part of the ``viz`` extra), so
importing :mod:`anoclip_book.viz` stays cheap for the CLI.
"""
from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure

from .canvas import as_array, new_figure


def cosine_matrix(embeddings: Any) -> np.ndarray:
    """(K, K) cosine similarities between the rows of (K, D) embeddings (any norms)."""
    array = as_array(embeddings).astype(np.float64)
    unit = array / np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)
    return unit @ unit.T


def group_similarity(embeddings: Any, labels: Sequence[str]) -> Tuple[List[str], np.ndarray]:
    """Mean cosine between the sentences of every pair of groups, in first-seen group order.

    On the diagonal a sentence is not paired with itself (that pair is always 1), so a
    diagonal entry is the mean similarity between *different* sentences of one group.
    """
    labels = list(labels)
    similarity = cosine_matrix(embeddings)
    if len(labels) != similarity.shape[0]:
        raise ValueError(f"{len(labels)} labels for {similarity.shape[0]} embeddings.")
    groups = list(dict.fromkeys(labels))
    members = [np.flatnonzero(np.asarray(labels) == group) for group in groups]
    matrix = np.empty((len(groups), len(groups)))
    for i, rows in enumerate(members):
        for j, cols in enumerate(members):
            block = similarity[np.ix_(rows, cols)]
            if i == j:
                off_diagonal = ~np.eye(len(rows), dtype=bool)
                matrix[i, j] = block[off_diagonal].mean() if off_diagonal.any() else np.nan
            else:
                matrix[i, j] = block.mean()
    return groups, matrix


def sentence_domains(sentences: Sequence[str], domains: Sequence[str]) -> List[str]:
    """The domain phrase each prompt sentence contains (e.g. "industrial photo")."""
    found = []
    for sentence in sentences:
        matches = [domain for domain in domains if domain in sentence]
        if len(matches) != 1:
            raise ValueError(f"Sentence {sentence!r} contains {len(matches)} of the domains {list(domains)}.")
        found.append(matches[0])
    return found


def plot_similarity_heatmap(
    matrix: np.ndarray,
    labels: Sequence[str],
    title: str = "",
    fmt: str = ".3f",
    cmap: str = "viridis",
    size: Optional[float] = None,
) -> Figure:
    """An annotated seaborn heat map of a (K, K) similarity matrix.

    The colour range is the matrix's own min..max: CLIP text embeddings of related sentences are
    all very similar (cosines of 0.7-1.0 are typical), and a 0..1 scale would hide the structure.
    The printed numbers carry the true values.
    """
    import seaborn as sns

    side = size or max(3.5, 0.55 * len(labels) + 2.0)
    fig = new_figure(side + 1.0, side)
    ax = fig.subplots()
    finite = matrix[np.isfinite(matrix)]
    sns.heatmap(
        matrix, ax=ax, annot=len(labels) <= 16, fmt=fmt, cmap=cmap, square=True,
        xticklabels=labels, yticklabels=labels, vmin=finite.min(), vmax=finite.max(),
        annot_kws={"fontsize": 7}, cbar_kws={"label": "cosine similarity", "shrink": 0.8},
    )
    ax.set_xticklabels(labels, rotation=40, ha="right", fontsize=8)
    ax.set_yticklabels(labels, rotation=0, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def plot_norm_histogram(norms: Mapping[str, Any], bins: int = 30) -> Figure:
    """Overlaid histograms of embedding norms, one per group (e.g. normal vs abnormal sentences)."""
    fig = new_figure(5.0, 3.0)
    ax = fig.subplots()
    values = {name: as_array(group).ravel() for name, group in norms.items()}
    edges = np.histogram_bin_edges(np.concatenate(list(values.values())), bins=bins)
    for name, group in values.items():
        ax.hist(group, bins=edges, alpha=0.55, label=f"{name} (n={group.size})")
    ax.set_xlabel("L2 norm of the raw sentence embedding")
    ax.set_ylabel("sentences")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def plot_temperature_effect(differences: Any, temperatures: Sequence[float] = (1.0, 0.01), bins: int = 40) -> Figure:
    """Where P(abnormal) = sigmoid(Δ / T) lands for the observed Δ = cos_abnormal - cos_normal.

    Panel 1: histogram of Δ over patches; then one histogram of the probabilities per
    temperature, with their range printed, so the reader sees T = 1 squeeze everything into a
    thin band around 0.5.
    """
    delta = as_array(differences).ravel().astype(np.float64)
    fig = new_figure(3.0 * (len(temperatures) + 1), 2.9)
    axes = fig.subplots(1, len(temperatures) + 1)
    axes[0].hist(delta, bins=bins, color="tab:grey")
    axes[0].set_title("Δ = cos(z, t_a) − cos(z, t_n)", fontsize=10)
    axes[0].set_xlabel("Δ")
    axes[0].set_ylabel("patches")
    for ax, temperature in zip(axes[1:], temperatures):
        probability = 1.0 / (1.0 + np.exp(-delta / temperature))
        ax.hist(probability, bins=bins, color="tab:red")
        ax.set_title(f"P(abnormal), T = {temperature:g}", fontsize=10)
        ax.set_xlabel(f"range {probability.min():.3f} … {probability.max():.3f}")
    for ax in axes:
        ax.grid(alpha=0.3)
    return fig
