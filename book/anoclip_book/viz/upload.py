"""Your own images in a notebook: upload them (Colab, Jupyter), name the class, read map and decision.

:class:`UploadExplorer` is the widget of chapter 7. It shows the images it was built with until
the reader uploads others; with at least :func:`anoclip.calibration.minimum_images` normal images
uploaded too (or thresholds passed in for the same class) it also calibrates and decides. The
button runs one batched prediction; nothing runs while files are being picked.

Uploads arrive as bytes in ``FileUpload.value``: a tuple of dicts in ipywidgets 8, a dict by file
name in ipywidgets 7 (still Colab's default); :func:`uploaded_images` reads both.
"""
from __future__ import annotations

import io
from typing import Any, Dict, List, Optional, Sequence, Tuple

from PIL import Image, UnidentifiedImageError

from anoclip.calibration import Thresholds, minimum_images
from anoclip.data.images import to_rgb
from .decisions import plot_decisions
from .explorers import _Explorer
from .maps import plot_map_grid

Named = Tuple[str, Image.Image]


def uploaded_images(value: Any) -> Tuple[List[Named], List[str]]:
    """``(name, RGB image)`` for every uploaded file that is an image, and the names of those that are not."""
    if isinstance(value, dict):  # ipywidgets 7: {name: {"content": bytes, "metadata": {...}}}
        files = [(name, item["content"]) for name, item in value.items()]
    else:  # ipywidgets 8: ({"name": ..., "content": memoryview, ...}, ...)
        files = [(item["name"], item["content"]) for item in value]
    images, rejected = [], []
    for name, content in files:
        try:
            with Image.open(io.BytesIO(bytes(content))) as opened:
                images.append((name, to_rgb(opened).copy()))  # the file closes with the block
        except (UnidentifiedImageError, OSError):
            rejected.append(name)
    return images, rejected


class UploadExplorer(_Explorer):
    """Upload images, pick the class name, see each map, the flagged pixels and the decision.

    Args:
        model: an :class:`anoclip.AnoCLIP`.
        images: ``(name, image)`` pairs shown until the reader uploads their own.
        class_name: the initial class name (the word the prompts use).
        thresholds: thresholds for ``class_name``, used until normal images are uploaded.
        fpr: the false-positive rate used when calibrating on uploaded normal images.
    """

    def __init__(
        self,
        model: Any,
        images: Sequence[Named],
        class_name: str,
        thresholds: Optional[Thresholds] = None,
        fpr: float = 0.01,
    ) -> None:
        import ipywidgets as widgets

        super().__init__()
        if not images:
            raise ValueError("UploadExplorer needs at least one image to show before anything is uploaded.")
        self.model = model
        self.initial = list(images)
        self.thresholds = thresholds
        self.upload = widgets.FileUpload(accept="image/*", multiple=True, description="your images")
        self.normal_upload = widgets.FileUpload(accept="image/*", multiple=True, description="normal images")
        self.class_name = widgets.Text(value=class_name, description="class name")
        self.fpr = widgets.BoundedFloatText(value=fpr, min=0.001, max=0.5, step=0.01, description="fpr")
        self.button = widgets.Button(description="Localize", button_style="primary")
        self.message = widgets.HTML()
        self.picture = widgets.Image(format="png")
        self.button.on_click(lambda _button: self.render())
        self.state: Dict[str, Any] = {}
        self.widget = widgets.VBox([
            widgets.HBox([self.upload, self.normal_upload]),
            widgets.HBox([self.class_name, self.fpr, self.button]),
            self.message, self.picture,
        ])
        self.render()

    def _decision_thresholds(self, class_name: str) -> Tuple[Optional[Thresholds], str]:
        """Thresholds for this class: calibrated on uploaded normal images, or the ones passed in."""
        normals, rejected = uploaded_images(self.normal_upload.value)
        skipped = f" Not images, skipped: {', '.join(rejected)}." if rejected else ""
        needed = minimum_images(self.fpr.value)
        if len(normals) >= needed:
            thresholds = self.model.calibrate([image for _, image in normals], class_name, fpr=self.fpr.value)
            return thresholds, f"Calibrated on {len(normals)} uploaded normal images at fpr {self.fpr.value:g}.{skipped}"
        if self.thresholds is not None and self.thresholds.class_name == class_name:
            return self.thresholds, (
                f"Thresholds calibrated on {self.thresholds.n_images} normal images of {class_name!r} at fpr "
                f"{self.thresholds.fpr:g}.{skipped}"
            )
        return None, (
            f"No decision: upload at least {needed} normal images of {class_name!r} (fpr {self.fpr.value:g} needs them) "
            f"to calibrate a threshold; {len(normals)} uploaded.{skipped}"
        )

    def render(self) -> None:
        class_name = self.class_name.value.strip() or "object"
        uploaded, rejected = uploaded_images(self.upload.value)
        images = uploaded or self.initial
        thresholds, note = self._decision_thresholds(class_name)
        prediction = self.model.predict([image for _, image in images], class_name)
        maps = prediction.anomaly_maps.float().cpu().numpy()
        scores = prediction.image_scores.float().cpu().numpy()
        names = [name for name, _ in images]
        side = self.model.image_size
        shown = [image.resize((side, side), Image.BILINEAR) for _, image in images]
        if thresholds is None:
            fig = plot_map_grid(shown, {"AnoCLIP map": list(maps)}, column_titles=names)
        else:
            fig = plot_decisions(shown, list(maps), list(scores), thresholds, names=names)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        self.picture.value = buffer.getvalue()
        source = f"{len(uploaded)} uploaded image(s)" if uploaded else "the chapter's example images (upload your own above)"
        extra = f" Not images, skipped: {', '.join(rejected)}." if rejected else ""
        self.message.value = f"<b>{class_name}</b>: {source}. {note}{extra}"
        self.state = {
            "class_name": class_name, "names": names, "scores": scores, "thresholds": thresholds,
            "decisions": None if thresholds is None else thresholds.decisions(scores),
        }
