"""The Colab edition shows the book's inline explorers (HTML outputs of code cells) and says they work offline."""
from pathlib import Path

import nbformat
import pytest

from anoclip_book.editions import colab
from anoclip_book.editions.settings import load_settings
from anoclip_book.editions.setup_cells import EXPLORERS_NOTE

ROOT = Path(__file__).resolve().parents[2]
WITH_EXPLORERS = {"book/02_value_wise_attention.ipynb": "inline_attention_explorer(",
                  "book/03_prompt_design.ipynb": "inline_heatmap_explorer(",
                  "book/04_maps_and_metrics.ipynb": "inline_heatmap_explorer("}


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("colab")
    return {path.relative_to(out).as_posix(): nbformat.read(str(path), as_version=4)
            for path in colab.build(ROOT, out, load_settings(ROOT))}


def test_chapters_with_explorers_draw_them_in_a_code_cell_and_say_they_work_offline(edition):
    for name, nb in edition.items():
        intro = next(cell.source for cell in nb.cells if cell.cell_type == "markdown" and "**Generated**" in cell.source)
        if name in WITH_EXPLORERS:
            assert any(cell.cell_type == "code" and WITH_EXPLORERS[name] in cell.source for cell in nb.cells), name
            assert EXPLORERS_NOTE.strip() in intro and "offline" in intro, name
            assert any(cell.cell_type == "markdown" and "offline" in cell.source and "Colab" in cell.source
                       for cell in nb.cells if "**Generated**" not in cell.source), name  # the chapter's own words too
        else:
            assert EXPLORERS_NOTE.strip() not in intro, name
