"""``python -m anoclip.exercises grade NOTEBOOK... [--csv grades.csv]`` — see :func:`.grading.main`."""
import sys

from .grading import main

if __name__ == "__main__":
    sys.exit(main())
