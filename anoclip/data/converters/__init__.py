"""One converter per benchmark data set, each ``convert(raw, out, **options) -> Path``.

``raw`` is the downloaded archive or the folder it extracts to; ``out`` receives the common
MVTec-like layout plus ``meta.json`` (see :mod:`anoclip.data.meta`).  Shared machinery (archive
handling, root detection, atomic publishing, balanced splits) is in :mod:`.common`.
"""
