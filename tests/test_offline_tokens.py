"""Offline engines read and write no tokens: the CLI table, the CSV, the JSON and the cards show none (a count of
words is not a token count, and used to be shown as one)."""

from __future__ import annotations

import csv
import io
import json

from components.live import metrics_line
from parallax import cli
from parallax.results import BranchResult
from tests.test_cli import Stdin

TEXT = "We guarantee 100% uptime, always. Version 2.3 cuts start-up time from 4.1 s to 1.2 s.\n"



def _cli(args: list[str]) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(args, stdin=Stdin(TEXT.encode()), out=out, err=err)
    assert code == 0, err.getvalue()
    return out.getvalue()


def _cell(table: str, first: str, column: str) -> str:
    """A cell of the summary table as printed: the row that starts with `first`, the column headed `column`."""
    lines = table.splitlines()
    header = lines[0]
    starts = [i for i in range(len(header)) if header[i] != " " and (i == 0 or header[i - 1] == " ")]
    line = next(line for line in lines if line.startswith(first))
    cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
    names = [header[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
    return dict(zip(names, cells, strict=True))[column]


def test_an_offline_review_shows_no_tokens_in_the_table_the_csv_and_the_json(tmp_path):
    printed = _cli(["review", "-", "-p", "legal", "-e", "offline:rules", "--csv", str(tmp_path / "r.csv"),
                    "--json", str(tmp_path / "r.json")])
    assert _cell(printed, "legal", "tokens") == "-"
    (row,) = csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text()))
    assert (row["input_tokens"], row["output_tokens"]) == ("", "")
    (branch,) = json.loads((tmp_path / "r.json").read_text())["branches"]
    assert (branch["input_tokens"], branch["output_tokens"]) == (None, None)
    assert branch["cost_usd"] == 0.0  # free all the same
    card = metrics_line(BranchResult.from_dict(branch))
    assert "tokens –" in card


def test_pseudo_localisation_shows_no_tokens(tmp_path):
    _cli(["translate", "-", "--source", "en", "--target", "de", "-e", "offline:pseudo", "--no-judge",
          "--json", str(tmp_path / "t.json")])
    (branch,) = json.loads((tmp_path / "t.json").read_text())["branches"]
    assert (branch["input_tokens"], branch["output_tokens"]) == (None, None)
