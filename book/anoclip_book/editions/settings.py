"""The one repository setting, read from ``_config.yml``, and everything derived from it.

Jupyter Book's own ``repository`` block is the single place the repository is named:
``repository.url`` gives every badge, install cell, Colab link and the site's launch buttons;
``repository.branch`` is where those launch buttons open notebooks, i.e. the branch the Colab
edition is published on (``.github/workflows/colab-edition.yml``); ``editions.package_ref`` (a key
Jupyter Book ignores) is the git ref the install cells install the package from. While the URL is
the placeholder this repository started with, every build says so (:func:`warn_if_placeholder`):
a Sphinx warning would fail ``-W``, so it is printed instead.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, TextIO, Tuple

CONFIG_FILE = "_config.yml"
PLACEHOLDER_URL = "https://github.com/anoclip-book/anoclip-book"
COLAB_URL = "https://colab.research.google.com"
_GITHUB = re.compile(r"^https://github\.com/(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?$")


class SettingsError(ValueError):
    """``_config.yml`` does not say where the book lives in a form the editions can use."""


@dataclass(frozen=True)
class Settings:
    """Where the book lives: the repository, the Colab edition's branch, the package's ref, the site."""

    repository: str
    owner: str
    name: str
    colab_branch: str
    package_ref: str
    site_url: str
    config_file: Path
    title: Optional[str] = None  # the book's title in _config.yml
    bibfile: str = "references.bib"  # the first of _config.yml's bibtex_bibfiles

    @property
    def placeholder(self) -> bool:
        return self.repository == PLACEHOLDER_URL

    def install_targets(self) -> Tuple[str, str]:
        """The pip requirements every install cell uses, from one ref: the library and the book's tooling."""
        return f"anoclip @ {self.install_url}", f"anoclip-book @ {self.install_url}#subdirectory=book"

    @property
    def install_url(self) -> str:
        return f"git+{self.repository}@{self.package_ref}"

    def colab_url(self, path: str) -> str:
        """The Colab link of a notebook of the Colab edition (``path`` relative to the repository root)."""
        return f"{COLAB_URL}/github/{self.owner}/{self.name}/blob/{self.colab_branch}/{path}"

    def source_url(self, path: str) -> str:
        """A source file on GitHub, at the ref the package is installed from."""
        return f"{self.repository}/blob/{self.package_ref}/{path}"

    def raw_url(self, path: str) -> str:
        """A repository file's raw address at the ref the package is installed from: what an
        ``<img>`` in Colab's Markdown loads (the SVG figures of the book)."""
        return f"https://raw.githubusercontent.com/{self.owner}/{self.name}/{self.package_ref}/{path}"

    def site_page(self, docname: str, anchor: str = "") -> str:
        """The rendered site's page of ``docname`` (``book/bibliography``), optionally at an anchor."""
        return f"{self.site_url}{docname}.html" + (f"#{anchor}" if anchor else "")

    def with_package_ref(self, ref: Optional[str]) -> "Settings":
        """The same settings installing the package from ``ref`` (CI pins the commit it built)."""
        if not ref:
            return self
        return replace(self, package_ref=ref)


def load_settings(root: Path) -> Settings:
    """Read ``root/_config.yml``; errors name the file, the value and the fix."""
    import yaml

    path = Path(root) / CONFIG_FILE
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise SettingsError(f"Cannot read {path} ({error}); run from the repository root or pass --root.") from error
    repository = config.get("repository") or {}
    url = str(repository.get("url", "")).strip()
    match = _GITHUB.match(url)
    if not match:
        raise SettingsError(
            f"{path}: repository.url is {url!r}; the Colab edition needs a GitHub repository URL such as "
            f"https://github.com/<owner>/<name> (Colab opens notebooks from GitHub). Set it to the book's repository."
        )
    branch = str(repository.get("branch", "")).strip()
    if not branch:
        raise SettingsError(f"{path}: repository.branch is empty; set it to the branch the Colab edition is published on (colab).")
    package_ref = str((config.get("editions") or {}).get("package_ref", "")).strip()
    if not package_ref:
        raise SettingsError(f"{path}: editions.package_ref is missing; set it to the git ref the install cells install from (main).")
    site = str((config.get("html") or {}).get("baseurl", "")).strip()
    if not site:
        raise SettingsError(f"{path}: html.baseurl is empty; set it to the published site's address (for links to its pages).")
    return Settings(url.rstrip("/").removesuffix(".git"), match["owner"], match["name"], branch, package_ref,
                    site if site.endswith("/") else site + "/", path, title=config.get("title"),
                    bibfile=(config.get("bibtex_bibfiles") or ["references.bib"])[0])


def warn_if_placeholder(settings: Settings, stream: Optional[TextIO] = None) -> bool:
    """Print a warning (to stderr unless ``stream``) when ``repository.url`` is the placeholder; return whether it is."""
    if settings.placeholder:
        print(
            f"WARNING: {settings.config_file}: repository.url is the placeholder {PLACEHOLDER_URL}. The install cells "
            f"({settings.install_url}), badges and launch buttons point at it, and they fail until it is the book's real "
            "repository: set repository.url (and html.baseurl) in _config.yml.",
            file=stream or sys.stderr,
        )
    return settings.placeholder
