"""Parallax installs like a Python tool: `pip install .` into a new environment gives a `parallax` command that
works from any folder — reviews a Word file and a PDF, writes a workbook, and starts the web app."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, IDLE
from tests.fakes import documents as make

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_and_requirements_name_the_same_packages_and_versions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {Requirement(r).name: Requirement(r) for r in project["dependencies"]}
    declared.update({Requirement(r).name: Requirement(r) for extra in project["optional-dependencies"].values()
                     for r in extra})
    pinned = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            (version,) = [s.version for s in requirement.specifier]
            pinned[requirement.name] = version
    assert set(pinned) == set(declared)
    assert [name for name, version in pinned.items() if not declared[name].specifier.contains(version)] == []


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """`pip install .` (a real wheel build) into a new environment that borrows the test environment's
    dependencies but not its editable Parallax: what runs is what the wheel carries."""
    where = tmp_path_factory.mktemp("installed")
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], check=True, capture_output=True, text=True).stdout.strip()
    ours = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "borrowed.pth").write_text(ours + "\n")  # a plain path: the editable install's .pth is not run
    source = where / "source"  # built from a copy: the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "test-artifacts",
                                                                "*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
                    "--no-deps", str(source)], check=True, cwd=where)
    return venv / "bin"


def parallax(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "parallax"), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "PARALLAX_HOME": str(cwd / ".parallax")})


def test_the_installed_command_runs_from_any_folder(installed, tmp_path):
    where = subprocess.run([str(installed / "python"), "-c", "import parallax; from parallax.cli.tools import "
                            "app_script; print(parallax.__file__); print(app_script())"], cwd=tmp_path,
                           capture_output=True, text=True, check=True)
    # The wheel's copies of the core and of the app (app.py at the root here), not ours.
    assert str(ROOT) not in where.stdout and where.stdout.count(str(installed.parent)) == 2
    version = parallax(installed, "--version", cwd=tmp_path)
    assert re.fullmatch(r"parallax \d+\.\d+\.\d+\n", version.stdout)
    (tmp_path / "contract.docx").write_bytes(make.docx(["Master services agreement.",
                                                       "We guarantee 100% uptime, always."]))
    review = parallax(installed, "review", "contract.docx", "-o", "-", cwd=tmp_path)
    assert review.returncode == 0, review.stderr
    assert json.loads(review.stdout)["aggregate"]["n_ok"] == 3
    (tmp_path / "terms.pdf").write_bytes(make.pdf([["Terms"], ["Contact jane.doe@example.com"]]))
    review = parallax(installed, "review", "terms.pdf", "-p", "legal", "-o", "out.xlsx", cwd=tmp_path)
    assert review.returncode == 0, review.stderr
    import pandas as pd
    issues = pd.read_excel(tmp_path / "out.xlsx", sheet_name="issues")
    assert issues.loc[issues["quote"] == "jane.doe@example.com", "page"].tolist() == [2]


@pytest.mark.browser
def test_parallax_app_serves_the_web_app_from_any_folder(installed, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "app.log").open("w")
    server = subprocess.Popen([str(installed / "parallax"), "app", "--port", str(port), "--server.headless=true"],
                              cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                   "PARALLAX_HOME": str(tmp_path / ".parallax")})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=1) as reply:
                    assert reply.read() == b"ok"
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "app.log").read_text()
                time.sleep(0.1)
        with urllib.request.urlopen(f"http://localhost:{port}/", timeout=5) as reply:
            assert b"<noscript>" in reply.read()  # Streamlit's page, served
        # ...and the wheel's app runs in a browser: its pages and components are found where the wheel put them.
        from playwright.sync_api import expect, sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"http://localhost:{port}/")
            page.wait_for_selector(IDLE, timeout=60_000)
            expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()
            expect(page.get_by_test_id("stSidebar").get_by_role("heading", name="Providers")).to_be_visible()
            assert not page.get_by_test_id("stException").count()
            browser.close()
    finally:
        server.terminate()  # as a service manager stops it
        server.wait(timeout=10)
        log.close()
    # Stopping `parallax app` stops the server: nothing is left serving on the port.
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2)
