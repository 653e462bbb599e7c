#!/usr/bin/env python
"""Prepare MSD (mobile phone screen defects): ``python data_scripts/prepare_msd.py --out data/msd [--raw PATH | --download]``.

``--help`` says what the data set is, where to get it and which options the conversion takes;
data_scripts/README.md has the full table of sources, licences and splits.
"""
import sys
from pathlib import Path

# Lets the script run from a fresh clone without `pip install -e .`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anoclip.data.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main("msd"))
