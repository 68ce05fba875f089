from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence

import pytest

from parallax.config import Config, load_config
from parallax.run.execute import RunOutcome, execute
from parallax.run.plan import plan_review
from tests.fakes.provider_server import FakeProviders

OPENAI_KEY = "fake-key-openai-0123456789abcdefghijklmnop"
ANTHROPIC_KEY = "fake-anthropic-key-0123456789abcdefghijklmnop"
DOCUMENT = "Version 2.1 cuts start-up time from 4 s to 1 s. Contact sales to upgrade."


@pytest.fixture
def page_without_keys(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An AppTest page as a user with no key sees it: no provider key or configuration file from this machine, the
    working folder empty, and a history of its own (the app keeps one open per process)."""
    from components.settings import _open_history

    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEEPL_AUTH_KEY", "LIBRETRANSLATE_URL", "PARALLAX_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    _open_history.clear()


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    server = FakeProviders()
    yield server
    server.close()


@pytest.fixture
def config(fake: FakeProviders) -> Config:
    return load_config(
        env={
            "OPENAI_API_KEY": OPENAI_KEY,
            "OPENAI_BASE_URL": fake.openai_url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": fake.anthropic_url,
        }
    )


def run(
    config: Config,
    engines: Sequence[str],
    perspectives: Sequence[str] = ("technical",),
    timeout_s: float = 20,
    concurrency: int | None = None,
    document: str = DOCUMENT,
) -> RunOutcome:
    plan = plan_review(document, config, perspectives, engines, timeout_s=timeout_s, concurrency=concurrency)
    return asyncio.run(execute(plan))


def shown_text(root, kinds=("markdown", "caption", "error", "info", "warning", "success")) -> str:  # type: ignore[no-untyped-def]
    """The text an AppTest tree shows, as a reader sees it: markdown's backslash escapes (outside code spans) and
    the invisible joiners that keep URLs from becoming links removed."""
    raw = "\n".join(str(e.value) for kind in kinds for e in root.get(kind))
    # Inside a code span markdown reads no escape: a backslash there is shown as it is.
    return re.sub(r"(`+)(.+?)\1|\\(.)", lambda m: m.group(0) if m.group(1) else m.group(3),
                  raw).replace("\u2060", "")


def only(outcome: RunOutcome):  # type: ignore[no-untyped-def]
    (result,) = outcome.ordered()
    return result


@pytest.fixture(autouse=True)
def history_db(tmp_path, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    """Every test gets its own history database: nothing is written to the user's home."""
    url = f"sqlite:///{tmp_path}/history.db"
    monkeypatch.setenv("PARALLAX_DATABASE_URL", url)
    monkeypatch.setenv("PARALLAX_HOME", str(tmp_path / "parallax-home"))  # the provider-batch job key, too
    return url


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[object]:
    from tests.postgres import Cluster

    cluster = Cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    """The same storage test on both backends; also the database the CLI and the app use in that test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/both.db"
    else:
        url = request.getfixturevalue("postgres_cluster").new_database()
    monkeypatch.setenv("PARALLAX_DATABASE_URL", url)
    return url
