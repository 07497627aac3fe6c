#!/usr/bin/env python3
"""Doxygen's INPUT_FILTER for include/cpc/: the project's plain comments as doc comments.

    comment_filter.py HEADER      (prints the header as Doxygen should read it)

The headers are written for people, with ordinary `//` comments: a header's opening comment
says what it provides and guarantees, and the comment just above a declaration says what
that name does. This filter shows Doxygen the same text as documentation, without changing
the headers:

- the comment block at the top of the file (before any code) becomes the file's
  documentation (`/** @file ... */`);
- a comment block directly above a declaration (no blank line between them), at namespace or
  class scope, becomes `///` documentation of that declaration;
- a comment after a member on the same line becomes `///<`.

Comments inside function bodies, blocks followed by a blank line (section headings, notes)
and blocks above a deleted function (implementation notes) stay ordinary comments. Line numbers are kept, so warnings point at the header.
"""
import re
import sys

OPENS_DOC_SCOPE = re.compile(r"\b(namespace|class|struct|union|enum)\b")


def scope_kind(head):
    """Whether the `{` after `head` opens a scope whose comments document declarations."""
    head = re.sub(r"\[\[.*?\]\]", "", head)
    if OPENS_DOC_SCOPE.search(head) and "(" not in head.split("{")[0].split("=")[0]:
        return "doc"
    if re.search(r"\b(namespace|class|struct|union|enum)\b", head) and ")" not in head:
        return "doc"
    return "code"


def code_part(line):
    """The line without its comment and string contents (good enough for these headers)."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])*'", "''", line)
    at = line.find("//")
    return line if at < 0 else line[:at]


def main():
    lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
    out = list(lines)
    # The file's opening comment.
    i = 0
    while i < len(lines) and lines[i].startswith("//"):
        i += 1
    if i > 0:
        # @file at the end of the first line: its argument (the rest of that line) is empty,
        # which names the file being read.
        out[0] = "/** " + lines[0][2:].lstrip() + " @file"
        for k in range(1, i):
            text = lines[k][3:] if lines[k].startswith("// ") else lines[k][2:]
            # An example indented in the comment is a code block in Markdown (4 spaces).
            out[k] = " *" + ("      " + text if text.startswith("  ") else " " + text)
        out[i - 1] += " */"
    # Scopes: a stack of "doc" / "code", and the text since the last ; { or }.
    stack = []
    head = ""
    for n in range(i, len(lines)):
        line = lines[n]
        stripped = line.strip()
        in_doc_scope = all(kind == "doc" for kind in stack)
        if stripped.startswith("//"):
            if in_doc_scope and stripped.startswith("// ") or stripped == "//":
                nxt = n + 1
                while nxt < len(lines) and lines[nxt].strip().startswith("//"):
                    nxt += 1
                follows = lines[nxt].strip() if nxt < len(lines) else ""
                # A deleted function needs no documentation: a comment above one is a note
                # about the class's implementation.
                documents = follows and not follows.startswith("#") and "= delete" not in follows
                if in_doc_scope and documents:
                    indent = line[: len(line) - len(line.lstrip())]
                    out[n] = indent + "///" + stripped[2:]
            continue
        code = code_part(line)
        if in_doc_scope and "//" in line[len(code):] and code.strip().endswith((";", ",")):
            at = len(code) + line[len(code):].find("//")
            out[n] = line[:at] + "///<" + line[at + 2:]
        for ch in code:
            if ch == "{":
                stack.append(scope_kind(head))
                head = ""
            elif ch == "}":
                if stack:
                    stack.pop()
                head = ""
            elif ch == ";":
                head = ""
            else:
                head += ch
        head += " "
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
