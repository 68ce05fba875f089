"""The command line as a user runs it: exit codes, messages, progress, the summary, JSON and CSV files."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from parallax import cli
from parallax.storage import Store
from tests.conftest import OPENAI_KEY
from tests.fakes.provider_server import status

NOTES = "Version 2.3 cuts start-up time from 4.1 s to 1.2 s. You can upgrade today from the download page.\n"
RISKY = (
    "We guarantee 100% uptime, always. You waive all claims and we are not liable for any loss. "
    "Contact jane.doe@example.com or +1 415-555-0199. Unlimited storage forever.\n"
)


class Stdin(io.StringIO):
    def __init__(self, data: bytes, tty: bool = False) -> None:
        super().__init__()
        self.buffer = io.BytesIO(data)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def call(args, stdin: bytes = b"", tty: bool = False, env: dict[str, str] | None = None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(args, stdin=Stdin(stdin, tty), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def no_keys(monkeypatch, tmp_path):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "PARALLAX_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_default_run_is_offline_with_three_perspectives(tmp_path):
    (tmp_path / "notes.txt").write_text(NOTES)
    code, out, err = call(["review", "notes.txt", "--json", "r.json", "--csv", "r.csv"])
    assert code == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert [b["perspective"] for b in data["branches"]] == ["technical", "business", "legal"]
    assert {b["engine"] for b in data["branches"]} == {"offline:rules"}
    assert set(data) >= {"run_id", "mode", "wall_ms", "branches", "aggregate"}
    assert set(data["branches"][0]) >= {
        "branch_id",
        "engine",
        "perspective",
        "status",
        "score",
        "text",
        "error",
        "latency_ms",
        "ttft_ms",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "retries",
    }
    assert set(data["aggregate"]) >= {"method", "score", "n_ok", "n_total", "spread"}
    assert data["aggregate"]["n_ok"] == 3 and data["mode"] == "review"
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    assert len(rows) == 3 and rows[0]["aggregate_n_total"] == "3"
    assert "aggregate (mean):" in out and "3 of 3 succeeded" in out
    assert "started   technical@offline:rules" in err and "[3/3]" in err


def test_stdin_and_reducer(tmp_path):
    code, out, _ = call(
        ["review", "-", "--reducer", "min", "-p", "legal", "-p", "technical", "--json", "r.json"], stdin=RISKY.encode()
    )
    assert code == 0
    data = json.loads((tmp_path / "r.json").read_text())
    scores = {b["perspective"]: b["score"] for b in data["branches"]}
    assert data["aggregate"]["method"] == "min" and data["aggregate"]["score"] == min(scores.values())
    assert data["aggregate"]["spread"] == max(scores.values()) - min(scores.values())


@pytest.mark.parametrize(
    "args,stdin,tty,message",
    [
        (["review", "-"], b"   \n", False, "the text is empty"),
        (["review"], b"", True, "give a FILE, or pipe text"),
        (["review", "missing.txt"], b"", False, "missing.txt: no such file"),
        (["review", "bin.txt"], b"", False, "bin.txt is not UTF-8 text"),
        (
            ["review", "-", "-p", "marketing"],
            b"hello",
            False,
            "unknown perspective 'marketing'; choose from: technical",
        ),
        (["review", "-", "-e", "gpt4"], b"hello", False, "unknown engine 'gpt4'; valid forms: openai:MODEL"),
        (["review", "-", "-e", "openai:gpt-4o-mini"], b"hello", False, "openai:gpt-4o-mini needs OPENAI_API_KEY"),
        (["review", "-", "-e", "sim:x?fail=explode"], b"hello", False, "sim option fail='explode' is not valid"),
        (["review", "-", "--reducer", "avg"], b"hello", False, "invalid choice: 'avg'"),
        (["review", "-", "--timeout", "0"], b"hello", False, "the timeout must be more than 0 seconds"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, args, stdin, tty, message):
    (tmp_path / "bin.txt").write_bytes(b"caf\xe9 \xff\xfe")
    code, out, err = call(args, stdin, tty)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert out == ""


def test_text_over_the_limit(monkeypatch):
    monkeypatch.setenv("PARALLAX_MAX_CHARS", "50")
    code, _, err = call(["review", "-"], b"x" * 51)
    assert code == 2 and "the text is 51 characters; the limit is 50" in err


def test_bad_input_calls_no_provider(fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    code, _, err = call(["review", "-", "-e", "openai:m", "-e", "nonsense"], b"hello")
    assert code == 2 and fake.calls() == 0


def test_all_branches_failing_exits_1_with_null_aggregate(tmp_path):
    code, out, _ = call(["review", "-", "-e", "sim:down?latency=0&fail=error", "--json", "r.json"], b"hello")
    assert code == 1
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["aggregate"]["score"] is None and data["aggregate"]["n_ok"] == 0
    assert {b["status"] for b in data["branches"]} == {"error"}
    assert "none (no branch succeeded)" in out


def test_provider_key_makes_it_the_default_engine(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    code, _, _ = call(["review", "-", "-p", "legal", "--json", "r.json"], b"hello")
    assert code == 0
    assert json.loads((tmp_path / "r.json").read_text())["branches"][0]["engine"] == "openai:gpt-4o-mini"
    assert fake.calls("gpt-4o-mini") == 1


def test_error_messages_in_exports_never_contain_the_key(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.openai_url)
    fake.enqueue("m", status(400, {"error": {"message": f"bad request for key {OPENAI_KEY}"}}))
    code, out, err = call(
        ["review", "-", "-e", "openai:m", "-p", "legal", "--json", "r.json", "--csv", "r.csv"], b"hello"
    )
    assert code == 1
    for text in (out, err, (tmp_path / "r.json").read_text(), (tmp_path / "r.csv").read_text()):
        assert OPENAI_KEY not in text
    assert "request rejected (HTTP 400): bad request for key [redacted]" in out


def test_named_openai_compatible_engine_from_config(fake, tmp_path):
    (tmp_path / "parallax.toml").write_text(
        f'[engines.local]\nbase_url = "{fake.openai_url}"\nmodel = "llama3.2"\nprice_input = 0\nprice_output = 0\n'
        '[perspectives.plain]\ndescription = "plain language"\nrubric = "Short words."\nweight = 2\n'
    )
    code, _, _ = call(["review", "-", "-e", "local", "-p", "plain", "--json", "r.json"], b"hello")
    assert code == 0
    branch = json.loads((tmp_path / "r.json").read_text())["branches"][0]
    assert (branch["engine"], branch["status"], branch["weight"], branch["cost_usd"]) == ("local", "ok", 2.0, 0.0)
    assert fake.requests[0]["model"] == "llama3.2"
    assert {k.lower(): v for k, v in fake.requests[0]["headers"].items()}["authorization"] == "Bearer not-needed"


def test_bad_config_file(tmp_path):
    (tmp_path / "parallax.toml").write_text("[engines.local]\nmodel = 'x'\n")
    code, _, err = call(["review", "-"], b"hello")
    assert code == 2 and "parallax.toml, line 1: [engines.local] needs a base_url" in err


def test_as_a_subprocess(tmp_path):
    """The real entry point, with a real pipe: `python -m parallax review -`."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, "-m", "parallax", "review", "-", "-p", "legal"],
        input=RISKY.encode(),
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert b"legal" in done.stdout and b"offline:rules" in done.stdout
    assert b"Traceback" not in done.stderr


def test_translate_offline_with_demo_engines_judge_reference_and_glossary(tmp_path):
    (tmp_path / "src.txt").write_text("The dog runs fast.")
    (tmp_path / "ref.txt").write_text("Der Hund läuft schnell.")
    (tmp_path / "terms.csv").write_text("dog,Hund\n")
    code, out, err = call(
        [
            "translate",
            "src.txt",
            "--source",
            "en",
            "--target",
            "de",
            "-e",
            "offline:pseudo",
            "-e",
            "sim:a?latency=0&tokens=5&rate=500",
            "-e",
            "sim:b?latency=0&tokens=5&rate=500",
            "--judge",
            "sim:j?latency=0&tokens=3&rate=500",
            "--judge-samples",
            "2",
            "--reference",
            "ref.txt",
            "--glossary",
            "terms.csv",
            "--json",
            "t.json",
            "--csv",
            "t.csv",
        ]
    )
    assert code == 0, err
    data = json.loads((tmp_path / "t.json").read_text())
    sims = {"sim:a?latency=0&tokens=5&rate=500", "sim:b?latency=0&tokens=5&rate=500"}
    assert data["mode"] == "translate" and data["best"] in sims
    assert set(data["agreement_matrix"]) == sims  # agreement among real translations only
    pseudo, *judged = data["branches"]
    assert pseudo["non_translation"] == "pseudo-localisation" and pseudo["judge_score"] is None
    for b in judged:
        assert b["judge_score"] is not None and b["agreement"] is not None and b["answered_by"] == b["engine"]
        assert b["chrf_reference"] is not None and b["glossary"] == {"dog": False}
    assert data["aggregate"]["method"] == "best" and data["aggregate"]["best"] == data["best"]
    assert data["segments"] == [{"segment": 1, "source": "The dog runs fast.",
                                 **{f"text:{b['branch_id']}": b["text"] for b in judged},
                                 **{f"score:{b['branch_id']}": b["judge_score"] for b in judged}}]
    assert data["demo"].startswith("Demo: simulated engines")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "t.csv").read_text())))
    assert len(rows) == 3 and rows[1]["judge_score"] and rows[0]["aggregate_best"] == data["best"]
    assert rows[0]["score_scale"] == "0-100"
    assert (tmp_path / "t.segments.csv").read_text().startswith("segment,source,text:sim:a")
    # One segment cannot show a difference: the pick is named, never called best.
    assert (f"Too short to tell — {data['best']} leads:" in out or f"A tie — {data['best']} shown first:" in out)
    assert "formula: best by judge score" in out and "Best translation" not in out
    assert "Demo: simulated engines" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--source", "en", "--target", "klingon"], "unknown target language 'klingon'"),
        (["--source", "en", "--target", "de", "-e", "offline:rules"], "offline:rules cannot translate"),
        (["--source", "en", "--target", "de", "--judge", "offline:pseudo"], "offline:pseudo cannot judge"),
        (["--source", "en", "--target", "de", "--glossary", "bad.csv"], "bad.csv: glossary line 1"),
        (["--source", "en"], "the following arguments are required: --target"),
    ],
)
def test_translate_bad_input_exits_2(tmp_path, args, message):
    (tmp_path / "bad.csv").write_text("no separator here\n")
    code, out, err = call(["translate", "-", *args], b"The dog runs fast.")
    assert code == 2 and message in err and out == ""


def test_translate_with_every_engine_failing_exits_1(tmp_path):
    code, out, _ = call(
        [
            "translate",
            "-",
            "--source",
            "en",
            "--target",
            "de",
            "--no-judge",
            "-e",
            "sim:x?latency=0&fail=error|sim:y?latency=0&fail=ratelimit",
            "--json",
            "t.json",
        ],
        b"The dog runs fast.",
    )
    assert code == 1
    (branch,) = json.loads((tmp_path / "t.json").read_text())["branches"]
    assert branch["answered_by"] is None and [f["engine"] for f in branch["fallbacks"]] == [
        "sim:x?latency=0&fail=error"
    ]
    assert branch["error"] == "Simulated: rate limited after 1 attempt"


def test_fail_under_gates_a_pipeline_and_a_closed_pipe_ends_quietly(tmp_path):
    source = tmp_path / "t.txt"
    source.write_text("Our product is guaranteed to never fail. Contact jane@example.com.", encoding="utf-8")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {"PATH": "/usr/bin:/bin", "PARALLAX_HOME": str(tmp_path), "PYTHONPATH": root}
    gate = [sys.executable, "-m", "parallax", "review", str(source), "-p", "legal", "-e", "offline:rules"]
    low = subprocess.run([*gate, "--fail-under", "9.5"], capture_output=True, text=True, env=env)
    assert low.returncode == 4 and "is below --fail-under 9.5" in low.stderr
    assert subprocess.run([*gate, "--fail-under", "0"], capture_output=True, env=env).returncode == 0
    store = Store(f"sqlite:///{tmp_path}/history.db")  # more runs for the listing: written here, not by 3 more CLIs
    for i in range(200):
        store.start_run(f"run{i}", "review", "x", {"reducer": "mean"}, [])
    piped = subprocess.run(f"{sys.executable} -m parallax history list | head -1", shell=True, capture_output=True,
                           text=True, env=env)
    assert piped.stdout.startswith("run_id") and piped.stderr == ""  # no BrokenPipe traceback


def test_o_picks_the_format_by_extension_and_dash_is_standard_output(tmp_path):
    import pandas as _pd

    source = tmp_path / "doc.txt"
    source.write_text("We guarantee 100% uptime.", encoding="utf-8")
    for name in ("r.csv", "r.json", "r.xlsx"):
        out, err = io.StringIO(), io.StringIO()
        assert cli.main(["review", str(source), "-p", "legal", "-o", str(tmp_path / name), "--no-cache"],
                        out=out, err=err) == 0
    assert (tmp_path / "r.csv").read_text(encoding="utf-8").startswith("run_id,mode,branch_id")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["mode"] == "review"
    assert list(_pd.read_excel(tmp_path / "r.xlsx", sheet_name=None)) == ["branches", "aggregate", "issues"]
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["review", str(source), "-p", "legal", "-o", "-", "--no-cache"], out=out, err=err) == 0
    assert json.loads(out.getvalue())["branches"][0]["perspective"] == "legal"  # only the JSON on stdout
    assert "aggregate (mean)" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["review", str(source), "-o", str(tmp_path / "r.txt")], out=out, err=err) == 2
    assert "name a .csv, .json or .xlsx file" in err.getvalue() and not (tmp_path / "r.txt").exists()
