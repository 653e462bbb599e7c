"""The book's other editions, generated from its sources: Colab and classroom.

* :mod:`.colab` — ``make colab`` → ``_build/colab/``: the notebooks as Colab renders them (no raw
  MyST, one install URL, GPU/Drive/widget setup cells), published on the branch the site's launch
  buttons open;
* :mod:`.classroom` — ``make classroom`` → ``_build/classroom/{student,autograder}/`` with
  otter-grader; :mod:`.grading` grades a folder of submissions into a CSV;
* :mod:`.settings` — the one repository setting in ``_config.yml`` they all derive from;
* :mod:`.myst`, :mod:`.citations`, :mod:`.notebooks` — the shared rewrites.

Command line: ``python -m anoclip_book.editions {colab,classroom,grade,check}`` (see ``--help``).
"""
