"""``python -m anoclip_book prefetch``: what ``make book`` fetches before it builds.

In smoke mode (``ANOCLIP_SMOKE=1``) the book uses the tiny random model and synthetic data, so
there is nothing to fetch; otherwise the weights of ``$ANOCLIP_MODEL`` / ``$ANOCLIP_PRETRAINED``
are fetched once by ``anoclip prefetch`` (which, offline, says how to build in smoke mode).
"""
import sys

from anoclip.cli import main as anoclip_main

from .modes import smoke_mode


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args != ["prefetch"]:
        print("usage: python -m anoclip_book prefetch", file=sys.stderr)
        return 2
    if smoke_mode():
        print("ANOCLIP_SMOKE=1: the book uses the tiny random model and synthetic data; nothing to fetch.")
        return 0
    return anoclip_main(["prefetch"])


if __name__ == "__main__":
    sys.exit(main())
