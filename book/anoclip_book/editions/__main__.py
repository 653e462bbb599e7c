"""``python -m anoclip_book.editions colab|classroom|grade|check`` — the editions' command line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from .settings import SettingsError, load_settings, warn_if_placeholder


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m anoclip_book.editions", description="Build the book's Colab and classroom editions.")
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository root (with _config.yml); default: .")
    commands = parser.add_subparsers(dest="command", required=True)
    colab = commands.add_parser("colab", help="write the Colab edition (default _build/colab)")
    colab.add_argument("--out", type=Path, default=None)
    colab.add_argument("--package-ref", default=None, help="git ref the install cells install from (default: editions.package_ref)")
    classroom = commands.add_parser("classroom", help="write the student and autograder editions (default _build/classroom)")
    classroom.add_argument("--out", type=Path, default=None)
    classroom.add_argument("--package-ref", default=None)
    classroom.add_argument("--run-tests", action="store_true", help="run every test against the solutions (otter assign)")
    grade = commands.add_parser("grade", help="grade handed-in notebooks into a CSV (runs their code: use a sandbox)")
    grade.add_argument("submissions", nargs="+", type=Path, help="notebooks, or folders searched for *.ipynb")
    grade.add_argument("--autograder", type=Path, default=Path("_build/classroom/autograder"),
                       help="the autograder folder `make classroom` wrote (default _build/classroom/autograder)")
    grade.add_argument("--csv", type=Path, default=Path("grades.csv"))
    grade.add_argument("--assignment", default=None, help="default: from each notebook's metadata")
    grade.add_argument("--real", action="store_true", help="run the demo cells with real weights (default ANOCLIP_SMOKE=1)")
    commands.add_parser("check", help="print the repository setting, and a warning while it is the placeholder")
    args = parser.parse_args(argv)

    if args.command == "grade":
        from .grading import GradingError, grade_folder

        try:
            grades = grade_folder(args.submissions, args.autograder, args.csv, args.assignment, smoke=not args.real)
        except GradingError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for item in grades:
            print(f"{item.notebook}: {item.assignment} {item.points:g}/{item.possible:g}" + (f" ({item.error})" if item.error else ""))
        print(f"wrote {args.csv}")
        return 0
    root = args.root.resolve()
    try:
        settings = load_settings(root).with_package_ref(getattr(args, "package_ref", None))
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    warn_if_placeholder(settings)
    if args.command == "check":
        print(f"repository {settings.repository}; Colab edition on branch {settings.colab_branch}; installs {settings.install_url}")
        return 0
    if args.command == "colab":
        from .colab import build

        out = args.out or root / "_build" / "colab"
        written = build(root, out.resolve(), settings)
        print(f"Colab edition: {len(written)} notebooks in {out}")
        return 0
    from .classroom import build

    out = args.out or root / "_build" / "classroom"
    zips = build(root, out.resolve(), settings, run_tests=args.run_tests)
    print(f"classroom edition: {len(zips)} assignments in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
