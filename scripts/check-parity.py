#!/usr/bin/env python3
"""Checks docs/parity.md: every row of a table with a "Test" column names a test that exists.

A Test cell holds one backticked `path::name` (the test `name` defined in the repository file
`path`), or `none` (no test checks the row; the Behaviour cell says why), or `n/a` (the row does
not apply on a phone). The checker fails (exit 1, listing them) when a cell is empty, holds
neither, or names a path that does not exist or does not define that test:

  Rust            fn name             (also `async fn`)
  Kotlin / Java   fun name, fun `name with spaces`, void name
  Swift           func name
  Python          def name            (also `async def`)

Python 3 standard library only; runs in well under a second (scripts/test-all.sh calls it).
Usage: scripts/check-parity.py [docs/parity.md]
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REF = re.compile(r"`([^`\s][^`]*?)::([^`]+?)`")
NO_TEST = {"none", "n/a"}


def cells(line):
    """The cells of a Markdown table row, split on pipes that are not escaped."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", body)]


def is_separator(row):
    return all(re.fullmatch(r":?-{3,}:?", c) for c in row if c) and any(row)


def definition(path, name):
    """A regex matching the definition of test `name` in a file of `path`'s language."""
    n = re.escape(name)
    suffix = path.suffix
    if suffix == ".rs":
        return re.compile(rf"\bfn\s+{n}\s*[<(]")
    if suffix in (".kt", ".kts", ".java"):
        return re.compile(rf"\bfun\s+(?:`{n}`|{n}\b)\s*\(|\bvoid\s+{n}\s*\(")
    if suffix == ".swift":
        return re.compile(rf"\bfunc\s+{n}\s*[<(]")
    if suffix == ".py":
        return re.compile(rf"\bdef\s+{n}\s*\(")
    return None


def main(argv):
    doc = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "parity.md"
    if not doc.is_file():
        print(f"check-parity: {doc} not found")
        return 1
    problems = []
    rows = checked = 0
    texts = {}
    test_col = None
    header_line = None
    width = 0
    lines = doc.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.lstrip().startswith("|"):
            test_col = None  # a table ends at the first line that is not a row
            header_line = None
            continue
        row = cells(line)
        if header_line is None:
            header_line = number
            test_col = row.index("Test") if "Test" in row else None
            width = len(row)
            continue
        if is_separator(row) or test_col is None:
            continue
        rows += 1
        where = f"{doc.name}:{number}"
        if len(row) != width:
            problems.append(f"{where}: {len(row)} cells, the header has {width} (an unescaped |?)")
            continue
        cell = row[test_col] if test_col < len(row) else ""
        if not cell:
            problems.append(f"{where}: empty Test cell ({row[0]})")
            continue
        refs = REF.findall(cell)
        if not refs:
            if cell.strip("` ").lower() not in NO_TEST:
                problems.append(f"{where}: Test cell is neither `path::name`, none nor n/a: {cell!r}")
            continue
        for rel, name in refs:
            checked += 1
            path = ROOT / rel
            if not path.is_file():
                problems.append(f"{where}: {rel}::{name}: no such file")
                continue
            pattern = definition(path, name)
            if pattern is None:
                problems.append(f"{where}: {rel}::{name}: unknown language")
                continue
            if rel not in texts:
                texts[rel] = path.read_text(encoding="utf-8", errors="replace")
            if not pattern.search(texts[rel]):
                problems.append(f"{where}: {rel}::{name}: no such test in the file")
    for p in problems:
        print(p)
    status = "FAILED" if problems else "ok"
    print(f"check-parity: {status}: {rows} rows, {checked} tests checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
