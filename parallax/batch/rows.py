"""A batch's input: the rows of a CSV or JSONL file read lazily, each a text or a document file named in its
`path` cell (confined to one folder), a bad row named and never sent."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from parallax import config as config_module
from parallax.documents import InputError, read_document, read_file


class BatchError(ValueError):
    """The batch cannot start (no such column, empty file...): nothing was called."""


@dataclass(frozen=True)
class Row:
    number: int  # 1-based data row (the header is not counted)
    doc_id: str
    text: str | None
    error: str | None = None  # bad row: named, not called


def _decoded_lines(handle: IO[bytes], bad_lines: set[int]) -> Iterator[str]:
    """Lines as text; a line ends at LF, CRLF or a lone CR (files that mix them are common)."""
    number = 0
    for chunk in handle:
        for raw in chunk.splitlines(keepends=True):
            number += 1
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                bad_lines.add(number)
                yield raw.decode("utf-8", errors="replace")


def _check_text_file(path: Path) -> None:
    """A file that is plainly not text (an image, a spreadsheet, an archive) stops before anything runs."""
    with path.open("rb") as handle:
        sample = handle.read(8192)
    undecodable = sample.decode("utf-8", "replace").count("\ufffd")
    if sample.count(b"\0") > 2 + len(sample) // 100 or undecodable > 2 + len(sample) // 10:
        raise BatchError(f"{path} is not a text file (binary data): give a UTF-8 CSV or JSONL file")


def read_rows(path: Path, column: str, id_column: str | None = None, documents: Path | None = None) -> Iterator[Row]:
    """Rows of a CSV or JSONL file, lazily: the text in `column`, or, where that cell is empty, the text of the
    document file the `path` cell names, inside the folder `documents` (None: `path` cells are refused, as in the
    app, where a batch file comes from whoever opens the page). Raises BatchError when the batch cannot start at
    all; a row that cannot be read is that row's error."""
    if not path.exists():
        raise BatchError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise BatchError(f"{path} is empty")
    _check_text_file(path)
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    limit = config_module.max_chars()
    handle = path.open("rb")
    bad_lines: set[int] = set()
    lines = _decoded_lines(handle, bad_lines)

    def check(number: int, doc_id: str, value: Any, line: int, named: Any = None) -> Row:
        if line in bad_lines:
            return Row(number, doc_id, None, f"row {number}: bytes that are not UTF-8 on line {line} (Latin-1 or "
                                             "Windows-1252? save the file as UTF-8)")
        text = "" if value is None else str(value)
        if not text.strip() and named:
            if documents is None:
                return Row(number, doc_id, None, f"row {number}: the {PATH_COLUMN!r} cell names a document file, "
                                                 f"which only `parallax batch` reads; here, put the text in the "
                                                 f"{column!r} column (nothing was read)")
            try:
                text = read_document(read_file(str(named), within=documents), str(named)).text
            except InputError as exc:
                return Row(number, doc_id, None, f"row {number}: {exc}")
        if "\0" in text:
            return Row(number, doc_id, None, f"row {number}: a NUL byte at character {text.index(chr(0)) + 1} of "
                                             f"the {column!r} cell (not sent)")
        if not text.strip():
            return Row(number, doc_id, None, f"row {number}: the {column!r} cell is empty")
        if len(text) > limit:
            return Row(number, doc_id, None, f"row {number}: {len(text):,} characters, over the limit of {limit:,}")
        return Row(number, doc_id, text)

    def rows() -> Iterator[Row]:
        try:
            if jsonl:
                for number, line in enumerate(lines, start=1):
                    if not line.strip():
                        continue
                    try:
                        item = json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield Row(number, str(number), None, f"row {number}: not valid JSON ({exc.msg})")
                        continue
                    except RecursionError:
                        yield Row(number, str(number), None, f"row {number}: JSON nested too deeply to read")
                        continue
                    if not isinstance(item, dict) or (column not in item and PATH_COLUMN not in item):
                        yield Row(number, str(number), None, f"row {number}: no {column!r} or {PATH_COLUMN!r} field")
                        continue
                    doc_id = str(item.get(id_column or "id", number))
                    yield check(number, doc_id, item.get(column), number, item.get(PATH_COLUMN))
            else:
                reader = csv.DictReader(lines, strict=True)
                if reader.fieldnames is None:
                    raise BatchError(f"{path} has no header row")
                if column not in reader.fieldnames and PATH_COLUMN not in reader.fieldnames:
                    raise BatchError(f"{path} has no column {column!r} (the text) or {PATH_COLUMN!r} (a document "
                                     f"file); its columns are: {', '.join(reader.fieldnames)}")
                use_id = id_column or ("id" if "id" in reader.fieldnames else None)
                for number, record in enumerate(reader, start=1):
                    doc_id = str(record.get(use_id) or number) if use_id else str(number)
                    yield check(number, doc_id, record.get(column), reader.line_num, record.get(PATH_COLUMN))
        finally:
            handle.close()

    iterator = rows()
    first = next(iterator, None)  # fail fast on a missing column or header, before anything runs
    if first is None:
        raise BatchError(f"{path} has no rows")

    def all_rows() -> Iterator[Row]:
        yield first
        yield from iterator

    return all_rows()


def sample_texts(path: Path, column: str, id_column: str | None = None, documents: Path | None = None,
                 n: int = 20) -> list[str]:
    """The texts of the first `n` valid rows (to estimate a batch's cost), read lazily."""
    return list(itertools.islice((r.text for r in read_rows(path, column, id_column, documents) if r.text), n))


def documents_folder(source: Path, documents: str | None) -> Path:
    """The folder a batch's `path` cells may name files in: `--documents`, else the batch file's own folder."""
    folder = Path(documents) if documents else source.resolve().parent
    if not folder.is_dir():
        raise BatchError(f"--documents {documents}: no such folder")
    return folder


def count_rows(path: Path) -> int:
    """Rows in the file, counted without holding it (for progress and ETA). A CSV is read through once here, so
    what would stop the batch half-way (a quote never closed, a cell over the size limit) stops it now, named."""
    with path.open("rb") as handle:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            return sum(1 for line in handle if line.strip())
        reader = csv.reader(io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline=""), strict=True)
        rows, ended_at = 0, 0
        try:
            for _ in reader:
                rows, ended_at = rows + 1, reader.line_num
        except csv.Error as exc:
            if "field limit" in str(exc):
                problem = f"a cell over {csv.field_size_limit() // 2**20} MB (the limit for one text is far lower)"
            elif "unexpected end of data" in str(exc):
                problem = "a quote opened here is never closed: the rest of the file would become one document"
            else:
                problem = str(exc)
            raise BatchError(f"{path}, row {rows} (line {ended_at + 1}): {problem}") from None
        return max(0, rows - 1)


PATH_COLUMN = "path"  # a batch row may name a document file instead of carrying its text
