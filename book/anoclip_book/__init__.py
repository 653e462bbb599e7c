"""The AnoCLIP Book's own tooling, beside the ``anoclip`` library (as d2lbook beside d2l).

The notebooks' helpers, one module per concern (``anoclip_book.<name>`` for all):

* :mod:`.modes` — the book's switches: smoke mode, a rehearsal's stand-ins, chapter 6's plan, precision;
* :mod:`.pages` — banners on every figure (smoke mode, rehearsal), layout, tables, glue, quiet cells;
* :mod:`.chapters` — the model a chapter loads, its data and examples;
* :mod:`.evidence` — findings with their uncertainty: bootstrap intervals over images, sentences;
* :mod:`.ablations` — chapters 2-3's sweeps over whole categories, each image encoded once;
* :mod:`.colab` — the Colab runtime: GPU and precision, widget manager, Google Drive;
* :mod:`.plans` — chapter 6's benchmark plan, provenance of results, committed runs.

and, as subpackages and modules of their own: :mod:`.viz` (chapter figures and explorers),
:mod:`.exercises` (the assignments' public checks), :mod:`.editions` (Colab and classroom
editions), :mod:`.rehearsal` with :mod:`.standins` and :mod:`.substitution` (``make rehearse``),
:mod:`.samples` (the chapters' MVTec AD categories) and :mod:`.published` (numbers others reported).

Kept free of heavy imports (no myst-nb, no IPython, no torch at import time). Importing it in a
rehearsal's kernel (``ANOCLIP_STANDINS`` set) installs the declared stand-ins in the download path.
"""
from anoclip.env import data_dir, results_dir

from . import substitution
from .modes import smoke_mode
from .chapters import ablation_dataset, benchmark_results, load_examples, load_model, sample_dataset, spread
from .colab import (
    DRIVE_FOOTPRINT, autocast_choice, colab_setup, cuda_capability, enable_colab_widgets, gpu_report, in_colab,
    use_folders, use_google_drive,
)
from .pages import (
    BANNER_INCHES, REHEARSAL_BANNER, SMOKE_BANNER, add_figure_banner, add_smoke_banner, figure_banner, glue, quiet,
    rehearsal_mode, set_glue_formats, setup_figures, table, tidy,
)
from .plans import (
    CPU_BASELINE_IMAGES, PROTOCOL_ROWS, PROVENANCE_FILE, BenchPlan, CommittedRun, RecordedRun, bench_plans, choose_plan,
    committed_runs, comparable_metric, export_run, hardware, read_bench_folder, read_provenance, run_provenance,
    source_revision, write_provenance,
)

__all__ = [
    "BANNER_INCHES", "CPU_BASELINE_IMAGES", "DRIVE_FOOTPRINT", "PROTOCOL_ROWS", "PROVENANCE_FILE", "REHEARSAL_BANNER",
    "SMOKE_BANNER", "BenchPlan", "CommittedRun", "RecordedRun", "ablation_dataset", "add_figure_banner", "add_smoke_banner",
    "autocast_choice",
    "bench_plans", "benchmark_results", "choose_plan", "colab_setup", "committed_runs", "comparable_metric",
    "cuda_capability", "data_dir", "enable_colab_widgets", "export_run", "figure_banner", "glue", "gpu_report",
    "hardware", "in_colab", "load_examples", "load_model", "quiet", "read_bench_folder", "read_provenance",
    "rehearsal_mode", "results_dir", "run_provenance", "sample_dataset", "set_glue_formats", "setup_figures",
    "smoke_mode", "source_revision", "spread", "table", "tidy", "use_folders", "use_google_drive", "write_provenance",
]

substitution.activate()  # a rehearsal's kernels: its declared stand-ins enter anoclip's download path
