"""ipywidgets explorers for Jupyter and Colab: attention per block, and anomaly heat maps.

Design rule: CLIP forward passes are expensive and widget callbacks are not. Each explorer
computes what a control change may need *once*, lazily, and caches it:

* :class:`AttentionExplorer` encodes an image (with taps) the first time it is shown and keeps
  its attention maps; moving the block, head, path or patch only redraws.
* :class:`HeatmapExplorer` caches patch scores per (class, prompt family, TTA on/off); smoothing,
  threshold, opacity and the image index are post-processing of those scores and only redraw.

Drawing: by default the figure is rendered to PNG into an ``ipywidgets.Image`` and the sliders
do the picking; this needs nothing but ipywidgets (7.7 or 8), so it works on Colab and in Jupyter.
(The book's pages show the inline explorers of :mod:`.inline` instead: computed when the page is
built, they need no kernel.) Only where the optional ipympl backend is active
(a local Jupyter with ``pip install ipympl``; Colab does not support it well) is the figure a live
canvas on which a click picks the query patch. Either way, ``render()`` can be called directly,
and the drawn data is exposed (``attention_map``, ``anomaly_map``, ``predicted_region``,
``state``) so the logic is testable without a browser.

On Colab, displaying an explorer switches on Colab's custom widget manager
(:func:`anoclip_book.enable_colab_widgets`; the Colab edition's setup cell calls it too).

ipywidgets is imported when an explorer is created, so ``import anoclip_book.viz`` works without it.
"""
from __future__ import annotations

import io
import os
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from matplotlib.colors import ListedColormap
from PIL import Image

from anoclip import metrics, scoring
from anoclip_book import enable_colab_widgets
from anoclip.config import PROMPT_FAMILIES, SMOOTHING_KINDS, TTAConfig
from .attention import attention_from_patch, cls_weight
from .canvas import MASK_COLOUR, mark_patch, new_figure, outline_mask, panel_label, show_image, show_map, stamp_smoke
from .explorer_data import (
    PATHS,
    ImageInput,
    dataset_samples,
    head_count,
    image_attention,
    model_image,
    model_mask,
    setting_scores,
    start_patch,
)


def interactive_backend() -> bool:
    """True when matplotlib draws to live widget canvases (ipympl), which deliver mouse clicks."""
    import matplotlib

    backend = matplotlib.get_backend().lower()
    return "ipympl" in backend or backend == "widget"


class FigureView:
    """A figure inside a widget: a clickable ipympl canvas when available, else a PNG image."""

    def __init__(self, width: float, height: float, interactive: Optional[bool] = None) -> None:
        import ipywidgets as widgets

        self.interactive = interactive_backend() if interactive is None else interactive
        if self.interactive:
            import matplotlib.pyplot as plt

            with plt.ioff():
                self.figure = plt.figure(figsize=(width, height), layout="constrained")
            stamp_smoke(self.figure)
            self.widget = self.figure.canvas
        else:
            self.figure = new_figure(width, height)
            self.widget = widgets.Image(format="png")

    def on_click(self, handler) -> None:
        """Call ``handler(event)`` on mouse clicks (only live canvases can deliver them)."""
        if self.interactive:
            self.figure.canvas.mpl_connect("button_press_event", handler)

    def refresh(self) -> None:
        if self.interactive:
            self.figure.canvas.draw_idle()
            return
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=90)
        self.widget.value = buffer.getvalue()


class _Explorer:
    """Shared plumbing: observe controls, redraw once per change, display as a widget."""

    widget: Any
    view: FigureView

    def __init__(self) -> None:
        self._quiet = False

    def _watch(self, *controls: Any) -> None:
        for control in controls:
            control.observe(self._changed, names="value")

    def _changed(self, _change: Dict[str, Any]) -> None:
        if not self._quiet:
            self.render()

    @contextmanager
    def _batch(self) -> Iterator[None]:
        """Change several controls with one redraw (the caller renders after the block)."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    @property
    def figure(self):
        return self.view.figure

    def render(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _ipython_display_(self) -> None:
        enable_colab_widgets()
        from IPython.display import display

        display(self.widget)


class AttentionExplorer(_Explorer):
    """Where one patch looks, per block, head and path (q-k = CLIP's own attention, v-v).

    Args:
        model: an :class:`anoclip.AnoCLIP`.
        images: paths, PIL images or arrays; shown at the model's input resolution.
        names: labels for the image menu.
        masks: optional ground-truth masks; the query patch then starts on the defect.
        interactive: force (True) or refuse (False) a live ipympl canvas; None = detect.
        method: a dual-path method, which decides where the v-v path runs: ``"anoclip"`` (every
            block), ``get_method("vv", start=s)`` or ``"clip-patch"`` (none).
    """

    def __init__(
        self,
        model: Any,
        images: Sequence[ImageInput],
        names: Optional[Sequence[str]] = None,
        masks: Optional[Sequence[Optional[np.ndarray]]] = None,
        interactive: Optional[bool] = None,
        method: Any = "anoclip",
    ) -> None:
        import ipywidgets as widgets

        super().__init__()
        if not images:
            raise ValueError("AttentionExplorer needs at least one image.")
        self.model = model
        self.method = method
        self.images = [model_image(image, model.image_size) for image in images]
        self.masks = list(masks) if masks is not None else [None] * len(self.images)
        self.grid = tuple(model.grid)
        blocks = model.clip.visual.transformer.resblocks
        heads = head_count(model)
        self._attention: Dict[int, Dict[str, List[Optional[np.ndarray]]]] = {}

        labels = list(names) if names is not None else [f"image {i}" for i in range(len(self.images))]
        start = self._start_patch(0)
        self.image = widgets.Dropdown(options=list(zip(labels, range(len(labels)))), value=0, description="image")
        self.path = widgets.ToggleButtons(options=PATHS, value="q-k", description="path")
        self.head = widgets.Dropdown(
            options=[("mean over heads", None)] + [(f"head {h}", h) for h in range(heads)],
            value=None, description="head",
        )
        self.layer = widgets.IntSlider(min=0, max=len(blocks) - 1, value=len(blocks) - 1, description="block")
        self.row = widgets.IntSlider(min=0, max=self.grid[0] - 1, value=start[0], description="patch row")
        self.col = widgets.IntSlider(min=0, max=self.grid[1] - 1, value=start[1], description="patch col")
        self.view = FigureView(9.0, 4.0, interactive)
        self.image_axes, self.map_axes, self.colour_axes = self.view.figure.subplots(1, 3, width_ratios=[1, 1, 0.05])
        self.view.on_click(self.on_click)
        self.image.observe(self._image_changed, names="value")
        self._watch(self.path, self.head, self.layer, self.row, self.col)
        hint = "click on the image or use the row/col sliders" if self.view.interactive else "use the row/col sliders"
        self.widget = widgets.VBox([
            widgets.HBox([self.image, self.head]),
            self.path,
            widgets.HBox([self.layer, self.row, self.col]),
            widgets.HTML(f"<small>Pick the query patch: {hint}.</small>"),
            self.view.widget,
        ])
        self.attention_map: np.ndarray = np.zeros(self.grid)
        self.render()

    def _start_patch(self, index: int) -> Tuple[int, int]:
        return start_patch(self.masks[index], self.grid)

    def attention(self, index: int) -> Dict[str, List[Optional[np.ndarray]]]:
        """Per-path, per-block (heads, 1+N, 1+N) attention of image ``index``; one forward, cached."""
        if index not in self._attention:
            self._attention[index] = image_attention(self.model, self.images[index], self.method)
        return self._attention[index]

    @property
    def state(self) -> Dict[str, Any]:
        return {
            "image": self.image.value, "layer": self.layer.value, "head": self.head.value,
            "path": self.path.value, "row": self.row.value, "col": self.col.value,
        }

    def _image_changed(self, _change: Dict[str, Any]) -> None:
        with self._batch():
            self.row.value, self.col.value = self._start_patch(self.image.value)
        self.render()

    def on_click(self, event: Any) -> None:
        """Move the query patch to a clicked point on either image panel (matplotlib event)."""
        if event.inaxes not in (self.image_axes, self.map_axes) or event.xdata is None or event.ydata is None:
            return
        size = self.model.image_size
        row = int(np.clip(event.ydata * self.grid[0] // size, 0, self.grid[0] - 1))
        col = int(np.clip(event.xdata * self.grid[1] // size, 0, self.grid[1] - 1))
        with self._batch():
            self.row.value, self.col.value = row, col
        self.render()

    def render(self) -> None:
        state = self.state
        blocks = self.attention(state["image"])[state["path"]]
        attention = blocks[state["layer"]]
        image = self.images[state["image"]]
        for ax in (self.image_axes, self.map_axes, self.colour_axes):
            ax.clear()
        shape = show_image(self.image_axes, image)
        if self.masks[state["image"]] is not None:
            outline_mask(self.image_axes, self.masks[state["image"]], shape)
        mark_patch(self.image_axes, state["row"], state["col"], self.grid, shape)
        self.image_axes.set_title("image, query patch (cyan), defect (green)", fontsize=9)
        show_image(self.map_axes, image, dim=0.6)
        head = "mean over heads" if state["head"] is None else f"head {state['head']}"
        if attention is None:
            self.attention_map = np.full(self.grid, np.nan)
            self.heat = None
            self.map_axes.set_title(f"block {state['layer']}: the v-v path starts later", fontsize=9)
        else:
            self.attention_map = attention_from_patch(attention, state["row"], state["col"], self.grid, state["head"])
            self.heat = show_map(self.map_axes, self.attention_map, shape, cmap="inferno", alpha=0.8, vmin=0.0, nearest=True)
            self.view.figure.colorbar(self.heat, cax=self.colour_axes, label="attention weight")
            on_cls = cls_weight(attention, state["row"], state["col"], self.grid, state["head"])
            self.map_axes.set_title(f"block {state['layer']}, {state['path']}, {head}", fontsize=9)
            panel_label(self.map_axes, f"weight on CLS: {on_cls:.1%}")
        mark_patch(self.map_axes, state["row"], state["col"], self.grid, shape)
        self.view.refresh()


class HeatmapExplorer(_Explorer):
    """AnoCLIP anomaly maps under different prompts, smoothing, threshold, opacity and TTA.

    Args:
        model: an :class:`anoclip.AnoCLIP`; its other config fields (temperature…) are kept.
        samples: class name → list of (image, mask or None).
        tta_config: the TTA used when the TTA box is ticked (default: official MVTec settings).
        interactive: force (True) or refuse (False) a live ipympl canvas; None = detect.
    """

    def __init__(
        self,
        model: Any,
        samples: Mapping[str, Sequence[Tuple[ImageInput, Optional[np.ndarray]]]],
        tta_config: Optional[TTAConfig] = None,
        interactive: Optional[bool] = None,
    ) -> None:
        import ipywidgets as widgets

        super().__init__()
        if not samples or not all(samples.values()):
            raise ValueError("HeatmapExplorer needs at least one (image, mask) pair for every class.")
        self.model = model
        self.tta_config = tta_config or TTAConfig()
        size = (model.image_size, model.image_size)
        self.images: Dict[str, List[Image.Image]] = {}
        self.masks: Dict[str, List[np.ndarray]] = {}
        for name, pairs in samples.items():
            self.images[name] = [model_image(image, model.image_size) for image, _ in pairs]
            self.masks[name] = [model_mask(mask, model.image_size) for _, mask in pairs]
        self._scores: Dict[Tuple[str, str, bool], np.ndarray] = {}
        self._range_key: Optional[tuple] = None

        first = next(iter(samples))
        self.class_name = widgets.Dropdown(options=list(samples), value=first, description="class")
        self.index = widgets.IntSlider(min=0, max=len(samples[first]) - 1, value=0, description="image")
        self.prompts = widgets.Dropdown(options=PROMPT_FAMILIES, value=model.config.prompts, description="prompts")
        self.smoothing = widgets.Dropdown(options=SMOOTHING_KINDS, value=model.config.smoothing, description="smoothing")
        self.tta = widgets.Checkbox(value=False, description="test-time adaptation")
        self.threshold = widgets.FloatSlider(min=0.0, max=1.0, step=0.001, value=0.5, readout_format=".4f", description="threshold")
        self.opacity = widgets.FloatSlider(min=0.0, max=1.0, step=0.05, value=0.5, description="opacity")
        self.view = FigureView(11.0, 4.0, interactive)
        self.image_axes, self.map_axes, self.colour_axes, self.region_axes = self.view.figure.subplots(
            1, 4, width_ratios=[1, 1, 0.05, 1]
        )
        self.class_name.observe(self._class_changed, names="value")
        self._watch(self.index, self.prompts, self.smoothing, self.tta, self.threshold, self.opacity)
        self.widget = widgets.VBox([
            widgets.HBox([self.class_name, self.index]),
            widgets.HBox([self.prompts, self.smoothing, self.tta]),
            widgets.HBox([self.threshold, self.opacity]),
            self.view.widget,
        ])
        self.anomaly_map: np.ndarray = np.zeros(size)
        self.predicted_region: np.ndarray = np.zeros(size, bool)
        self.render()

    @classmethod
    def from_dataset(
        cls, model: Any, root: Union[str, os.PathLike], classes: Sequence[str], per_class: int = 4, **kwargs: Any
    ) -> "HeatmapExplorer":
        """Up to ``per_class`` anomalous test images per class, spread over the defect types."""
        samples, _ = dataset_samples(root, classes, per_class)
        return cls(model, samples, **kwargs)

    @property
    def state(self) -> Dict[str, Any]:
        return {
            "class_name": self.class_name.value, "index": self.index.value, "prompts": self.prompts.value,
            "smoothing": self.smoothing.value, "tta": self.tta.value,
            "threshold": self.threshold.value, "opacity": self.opacity.value,
        }

    def patch_scores(self, class_name: str, prompts: str, tta: bool) -> np.ndarray:
        """(B, h, w) patch scores of a class's images; one batched forward per setting, cached."""
        key = (class_name, prompts, tta)
        if key not in self._scores:
            self._scores[key] = setting_scores(self.model, self.images[class_name], class_name, prompts,
                                               self.tta_config if tta else False)
        return self._scores[key]

    def class_maps(self) -> np.ndarray:
        """(B, S, S) anomaly maps of the current class under the current settings (cheap)."""
        state = self.state
        scores = torch.from_numpy(self.patch_scores(state["class_name"], state["prompts"], state["tta"]))
        size = (self.model.image_size, self.model.image_size)
        return scoring.anomaly_maps(scores, size, state["smoothing"], self.model.config.sigma).numpy()

    def _class_changed(self, _change: Dict[str, Any]) -> None:
        with self._batch():
            self.index.value = 0
            self.index.max = len(self.images[self.class_name.value]) - 1
        self.render()

    def _fit_threshold(self, maps: np.ndarray) -> None:
        """New maps, new value range: span it and start at the class's 90th pixel percentile.

        Probabilities at temperature 1 live in a narrow band around 0.5, so a fixed 0..1 slider
        would be useless; the slider shows absolute P(abnormal) within the band instead.
        """
        key = (self.class_name.value, self.prompts.value, self.tta.value, self.smoothing.value)
        if key == self._range_key:
            return
        self._range_key = key
        low, high = float(maps.min()), float(maps.max())
        high = max(high, low + 1e-6)
        slider = self.threshold
        with self._batch():
            slider.min, slider.max = min(low, slider.min), max(high, slider.max)
            slider.value = float(np.quantile(maps, 0.9))
            slider.min, slider.max = low, high
            slider.step = (high - low) / 200

    def render(self) -> None:
        maps = self.class_maps()
        self._fit_threshold(maps)
        state = self.state
        image = self.images[state["class_name"]][state["index"]]
        mask = self.masks[state["class_name"]][state["index"]]
        self.anomaly_map = maps[state["index"]]
        self.predicted_region = self.anomaly_map >= state["threshold"]
        for ax in (self.image_axes, self.map_axes, self.colour_axes, self.region_axes):
            ax.clear()
        shape = show_image(self.image_axes, image)
        outline_mask(self.image_axes, mask, shape)
        self.image_axes.set_title("image, ground truth (green)", fontsize=9)
        show_image(self.map_axes, image)
        self.heat = show_map(self.map_axes, self.anomaly_map, shape, alpha=state["opacity"])
        self.view.figure.colorbar(self.heat, cax=self.colour_axes, label="P(abnormal)")
        tta = "with TTA" if state["tta"] else "no TTA"
        self.map_axes.set_title(f"{state['prompts']} prompts, {state['smoothing']}, {tta}", fontsize=9)
        if mask.any() and not mask.all():
            panel_label(self.map_axes, f"pixel AUROC (this image) {metrics.pixel_auroc([self.anomaly_map], [mask]):.3f}")
        show_image(self.region_axes, image, dim=0.5)
        self.region_axes.imshow(
            np.ma.masked_where(~self.predicted_region, self.predicted_region.astype(float)),
            extent=(0, shape[1], shape[0], 0), cmap=ListedColormap(["red"]), alpha=0.6,
        )
        outline_mask(self.region_axes, mask, shape, colour=MASK_COLOUR)
        union = np.logical_or(self.predicted_region, mask).sum()
        iou = np.logical_and(self.predicted_region, mask).sum() / union if union else float("nan")
        self.region_axes.set_title(f"map ≥ {state['threshold']:.4f} (red)", fontsize=9)
        panel_label(self.region_axes, f"IoU with ground truth {iou:.2f}")
        self.view.refresh()
