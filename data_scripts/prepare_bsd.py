#!/usr/bin/env python
"""Prepare BSData (ball screw drive): ``python data_scripts/prepare_bsd.py --out data/bsd [--raw PATH | --download]``.

``--help`` says what the data set is, where to get it and which options the conversion takes;
data_scripts/README.md has the full table of sources, licences and splits.
"""
from prepare_cli import main  # beside this script; it needs the package installed (make install does)

if __name__ == "__main__":
    raise SystemExit(main("bsd"))
