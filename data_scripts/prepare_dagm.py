#!/usr/bin/env python
"""Prepare DAGM 2007: ``python data_scripts/prepare_dagm.py --out data/dagm [--raw PATH | --download]``.

``--help`` says what the data set is, where to get it and which options the conversion takes;
data_scripts/README.md has the full table of sources, licences and splits.
"""
from prepare_cli import main  # beside this script; it needs the package installed (make install does)

if __name__ == "__main__":
    raise SystemExit(main("dagm"))
