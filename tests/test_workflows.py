"""The GitHub workflows stay hardened: audited by zizmor, actions pinned, tokens scoped.

A tag such as ``@v4`` can be moved to other code by whoever controls the action's repository, so
every ``uses:`` names a full commit SHA, with the release tag in a trailing comment for people to
read. actions/checkout otherwise leaves the job's token on disk, configured for git, for every
later step to read; no workflow here pushes with it. Write permissions are granted per job (only
the Pages deploy job and the Colab edition's job need them), never to a whole workflow, whose
other jobs run downloaded code. zizmor checks these and more; ``--strict-collection`` makes a
workflow that does not parse a failure instead of a file silently left out of the audit.
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)(?P<rest>.*)$")
VERSION_COMMENT = re.compile(r"\s+#\s*v\d+(?:\.\d+){0,2}\s*$")


def workflow_files() -> list[Path]:
    files = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    assert files, f"no workflow found under {WORKFLOWS}"
    return files


def steps_of(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def zizmor_executable() -> str:
    """The zizmor that the test's interpreter installed (its venv need not be on PATH), else PATH's."""
    beside = Path(sys.executable).with_name("zizmor")
    return str(beside) if beside.exists() else shutil.which("zizmor") or ""


def where(location: dict) -> str:
    """``file:line`` of a location in zizmor's JSON (v1) output."""
    path = location["symbolic"]["key"]["Local"]["verbatim_path"]
    return f"{path}:{location['concrete']['location']['start_point']['row'] + 1}"


def test_zizmor_finds_nothing_of_medium_or_high_severity():
    zizmor = zizmor_executable()
    if not zizmor:
        pytest.skip("zizmor is not installed: pip install -e '.[dev]' (it is in the dev extra)")
    done = subprocess.run(
        [zizmor, "--offline", "--strict-collection", "--min-severity", "medium", "--no-exit-codes",
         "--format", "json-v1", str(WORKFLOWS)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert done.returncode == 0, f"zizmor failed: {done.stderr[-2000:]}"
    findings = [
        f"{finding['ident']} ({finding['determinations']['severity']}) at {where(finding['locations'][0])}"
        for finding in json.loads(done.stdout)
    ]
    assert findings == [], "zizmor --offline .github/workflows reports:\n" + "\n".join(findings)


@pytest.mark.parametrize("path", workflow_files(), ids=lambda path: path.name)
def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment(path: Path):
    workflow = yaml.safe_load(path.read_text())
    used = {step["uses"] for step in steps_of(workflow) if "uses" in step}
    lines = [match for match in map(USES_LINE.match, path.read_text().splitlines()) if match]
    assert {line["ref"] for line in lines} == used, f"{path.name}: write each 'uses:' on its own line"
    unpinned = sorted(ref for ref in used if not PINNED.fullmatch(ref))
    assert not unpinned, f"{path.name}: pin to a full commit SHA, not a tag or branch: {unpinned}"
    uncommented = [line["ref"] for line in lines if not VERSION_COMMENT.fullmatch(line["rest"])]
    assert not uncommented, f"{path.name}: add the release tag as a comment ('# v1.2.3') after: {uncommented}"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda path: path.name)
def test_checkout_never_persists_the_token(path: Path):
    checkouts = [step for step in steps_of(yaml.safe_load(path.read_text()))
                 if step.get("uses", "").startswith("actions/checkout@")]
    persisting = [step["uses"] for step in checkouts
                  if step.get("with", {}).get("persist-credentials") is not False]
    assert not persisting, f"{path.name}: give actions/checkout 'with: persist-credentials: false'"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda path: path.name)
def test_no_workflow_wide_write_permission(path: Path):
    permissions = yaml.safe_load(path.read_text()).get("permissions")
    assert permissions is not None, \
        f"{path.name}: set 'permissions: contents: read' (the default token may write)"
    if isinstance(permissions, str):  # read-all / write-all
        writes = [permissions] if permissions == "write-all" else []
    else:
        writes = [scope for scope, level in permissions.items() if level == "write"]
    assert not writes, f"{path.name}: grant {sorted(writes)} on the job that needs it, not the whole workflow"
