"""A Sphinx extension: numbered, captioned figures from the images a notebook cell shows.

A code cell that draws a figure carries its caption and name in its metadata::

    "metadata": {"figure": {"name": "fig-ch2-locality", "caption": "Locality per block, ..."}}

and the prose refers to it with ``{numref}`fig-ch2-locality``` ("Figure 2.3" on the site; the
Colab edition prints the same number, :mod:`anoclip_book.editions.myst`). myst-nb's own
``mystnb.figure`` metadata wraps *every* display output of a cell in a figure of the same name,
so a cell that shows a table next to its figure, or one figure per dataset, would get duplicate
labels and empty numbered figures. This transform runs after myst-nb has parsed the notebook,
while every output is still a bundle of all its MIME types, and wraps only the bundles that
carry an image: all of them in one figure, tables and text left where they are. The caption is
MyST, parsed like the page's own prose (math, roles).

A cell that shows an image without a caption is a warning (an error under ``-W``), so no figure
reaches the book unnumbered; the warning names the notebook, the cell and the metadata to add.
"""
from __future__ import annotations

from typing import Any, Dict, List

from docutils import nodes
from docutils.utils import new_document
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

METADATA_KEY = "figure"
logger = logging.getLogger(__name__)


def _is(node: nodes.Node, element: str) -> bool:
    return isinstance(node, nodes.container) and node.get("nb_element") == element


def _shows_image(bundle: nodes.container) -> bool:
    return any(str(child.get("mime_type", "")).startswith("image/") for child in bundle.children)


class CellFigures(SphinxTransform):
    """Wrap the image outputs of each captioned notebook cell in one named, numbered figure."""

    default_priority = 400  # after parsing, before Sphinx collects labels and numbers figures

    def apply(self, **kwargs: Any) -> None:
        for cell in list(self.document.findall(lambda node: _is(node, "cell_code"))):
            spec = (cell.get("cell_metadata") or {}).get(METADATA_KEY)
            images = [node for node in cell.findall(lambda node: _is(node, "mime_bundle")) if _shows_image(node)]
            where = f"cell {cell.get('cell_index')}"
            if spec is None:
                if images:
                    logger.warning(
                        f"{where} shows a figure without a caption; add cell metadata "
                        f'{{"{METADATA_KEY}": {{"name": "fig-...", "caption": "..."}}}} (anoclip_book.cell_figures).',
                        location=cell, type="anoclip", subtype="figure")
                continue
            if not isinstance(spec, dict) or not spec.get("name") or not spec.get("caption"):
                logger.warning(f"{where}: figure metadata needs a name and a caption, got {spec!r}.",
                               location=cell, type="anoclip", subtype="figure")
                continue
            if not images:
                logger.warning(f"{where}: figure {spec['name']!r} is declared, but the cell shows no image.",
                               location=cell, type="anoclip", subtype="figure")
                continue
            self._wrap(images, spec, cell)

    def _wrap(self, images: List[nodes.container], spec: Dict[str, str], cell: nodes.Element) -> None:
        figure = nodes.figure(classes=["cell-figure"])
        figure.source, figure.line = cell.source, cell.line
        images[0].replace_self(figure)
        for image in images[1:]:
            image.parent.remove(image)
        figure.extend(images)
        figure["names"].append(nodes.fully_normalize_name(spec["name"]))
        self.document.note_explicit_target(figure, figure)
        figure += self._caption(str(spec["caption"]), cell)

    def _caption(self, text: str, cell: nodes.Element) -> nodes.caption:
        """The caption's MyST parsed with the page's own parser settings (math, roles, links)."""
        from myst_parser.parsers.sphinx_ import MystParser

        scratch = new_document(self.document["source"], self.document.settings)
        MystParser().parse(text, scratch)
        paragraph = scratch.children[0] if scratch.children else None
        if not isinstance(paragraph, nodes.paragraph) or len(scratch.children) > 1:
            logger.warning(f"cell {cell.get('cell_index')}: a figure caption must be one paragraph.",
                           location=cell, type="anoclip", subtype="figure")
        caption = nodes.caption(text, "", *(paragraph.children if paragraph is not None else [nodes.Text(text)]))
        caption.source, caption.line = cell.source, cell.line
        return caption


def setup(app: Sphinx) -> Dict[str, Any]:
    app.add_transform(CellFigures)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
