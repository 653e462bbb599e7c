# The README's two Quick start commands:
#   make book       build the Jupyter Book with real CLIP weights (fetched once)
#   make test       run every test: pytest, the book's tooling tests again under Colab's versions of
#                   ipywidgets, numpy, matplotlib, pandas and pillow, the book built in smoke mode (tiny
#                   random CLIP) and the rehearsal of the real path (make rehearse)
# and the rehearsal on its own:
#   make rehearse   the whole book in real mode, every download served by a stand-in mirror on
#                   127.0.0.1 (random-weight checkpoint, synthetic raw layouts); MODEL=anoclip-tiny
#                   (default, minutes) or MODEL=ViT-B-16-plus-240 (about an hour on 2 cores)
# and the book's two other editions, generated from the same sources (anoclip_book.editions):
#   make colab      the notebooks as Colab renders them → _build/colab/ (published on the colab branch)
#   make classroom  student and autograder editions of the assignments → _build/classroom/
# Each creates (or refreshes) the virtual environment .venv with everything it needs: the library
# (anoclip, pyproject.toml) and the book's tooling (anoclip_book, book/pyproject.toml), both editable.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 2
MODEL ?= anoclip-tiny

.PHONY: book test pytest colab-pins smoke-book rehearse colab classroom install clean

$(STAMP): pyproject.toml book/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" -e "./book[build,classroom,test]"
	touch $(STAMP)

install: $(STAMP)

# ANOCLIP_MODEL, ANOCLIP_PRETRAINED (an open_clip tag or a checkpoint file), ANOCLIP_MIRROR and
# ANOCLIP_CACHE reach prefetch and every chapter unchanged, from the environment or this command
# line, e.g.  make book ANOCLIP_MODEL=ViT-B-16 ANOCLIP_PRETRAINED=openai
# `anoclip_book.editions check` notes in the log where the launch buttons point (and warns while
# _config.yml still names the placeholder repository).
book: $(STAMP)
	$(BIN)/python -m anoclip_book.editions check
	$(BIN)/python -m anoclip_book prefetch
	$(BIN)/jupyter-book build . -W -n --keep-going

test: pytest colab-pins smoke-book rehearse

pytest: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n $(JOBS) -q

# Colab's versions (googlecolab/backend-info, 2026-08-19) of what the explorers and the editions use,
# laid over .venv with PYTHONPATH (torch and Python stay CI's): the viz and editions tests again.
COLAB_PINS := ipywidgets==7.7.1 widgetsnbextension==3.6.10 jupyterlab_widgets==3.0.16 ipython-genutils==0.2.0 \
	numpy==2.1.3 matplotlib==3.10.0 pandas==2.2.3 pytz==2025.2 pillow==11.3.0
COLAB_OVERLAY := $(VENV)/colab-pins
$(COLAB_OVERLAY)/.installed: Makefile
	rm -rf $(COLAB_OVERLAY)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --target $(COLAB_OVERLAY) $(COLAB_PINS)
	touch $@

colab-pins: $(STAMP) $(COLAB_OVERLAY)/.installed
	HF_HUB_OFFLINE=1 PYTHONPATH=$(COLAB_OVERLAY) $(BIN)/python -m pytest -q -p no:cacheprovider tests/book/test_viz.py tests/book/test_editions.py

smoke-book: $(STAMP)
	$(BIN)/python -m anoclip_book.editions check
	HF_HUB_OFFLINE=1 ANOCLIP_SMOKE=1 $(BIN)/jupyter-book build . -W -n --keep-going --path-output _build/smoke

# Output, data, results and caches of the rehearsal: _build/rehearsal (replaced on every run).
rehearse: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m anoclip_book.rehearsal --model $(MODEL)

# No execution: the Colab edition prints its numbers when a reader runs it (see book/anoclip_book/editions/colab.py).
colab: $(STAMP)
	$(BIN)/python -m anoclip_book.editions colab

# --run-tests runs every test, hidden ones included, against the solutions (smoke mode: seconds each).
classroom: $(STAMP)
	HF_HUB_OFFLINE=1 ANOCLIP_SMOKE=1 $(BIN)/python -m anoclip_book.editions classroom --run-tests

clean:
	rm -rf _build
