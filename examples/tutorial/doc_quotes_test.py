#!/usr/bin/env python3
"""Checks that the C++ code blocks of a document quote files of the repository exactly.

    doc_quotes_test.py docs/tutorial.md [docs/pitfalls.md ...]

Every ```cpp block must follow (on the line just before it) a marker:

    <!-- quote: examples/tutorial/1_echo.cpp -->   the block is in that file (path from the
                                                    repository's root), literally
    <!-- not compiled -->                           deliberately wrong code, not checked

A line `// ...` inside a block skips code: the pieces between such lines must appear in the
file in the order of the block. So a document cannot drift from the programs the tests build
and run.
"""
import pathlib
import re
import sys

MARKER = re.compile(r"<!--\s*(quote:\s*(\S+)|not compiled)\s*-->")
SKIP = "// ..."


def blocks(text):
    """(line number, marker line, block text) for each ```cpp block."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```cpp":
            start = i
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            if j == len(lines):
                raise SystemExit(f"line {start + 1}: unterminated ```cpp block")
            marker = lines[start - 1] if start > 0 else ""
            yield start + 1, marker, lines[start + 1:j]
            i = j
        i += 1


def pieces(block_lines):
    current = []
    for line in block_lines:
        if line.strip() == SKIP:
            if current:
                yield "\n".join(current)
            current = []
        else:
            current.append(line)
    if current:
        yield "\n".join(current)


def check(doc, root):
    failures = 0
    quoted = 0
    for lineno, marker, body in blocks(doc.read_text()):
        m = MARKER.search(marker)
        where = f"{doc.name}:{lineno}"
        if not m:
            print(f"FAIL {where}: a ```cpp block without <!-- quote: FILE --> or "
                  f"<!-- not compiled --> on the line before it")
            failures += 1
            continue
        if m.group(1) == "not compiled":
            continue
        source = root / m.group(2)
        if not source.is_file():
            print(f"FAIL {where}: {m.group(2)} does not exist")
            failures += 1
            continue
        text = source.read_text()
        at = 0
        for piece in pieces(body):
            found = text.find(piece, at)
            if found < 0:
                first = piece.split("\n", 1)[0]
                print(f"FAIL {where}: not in {m.group(2)} (or out of order): {first!r}...")
                failures += 1
                break
            at = found + len(piece)
        else:
            quoted += 1
    print(f"{doc.name}: {quoted} quoted blocks match their files, {failures} do not")
    if quoted == 0:
        print(f"FAIL {doc.name}: no quoted block at all (a marker or a path is wrong)")
    return failures == 0 and quoted > 0


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = pathlib.Path(__file__).resolve().parents[2]
    results = [check(pathlib.Path(p), root) for p in sys.argv[1:]]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
