#!/usr/bin/env python3
"""Checks that every relative link in the project's Markdown resolves: the file exists and,
when the link has a #fragment, the target file has a heading with that anchor.

    python3 scripts/check-links.py            # README.md, docs/*.md, deploy/README.md
    python3 scripts/check-links.py FILE...    # only these

Anchors are made as GitHub makes them: the heading text in lower case, without characters other
than letters, digits, `_`, `-` and spaces, spaces turned into `-`, and `-1`, `-2`, … appended to
repeats. Headings and links inside fenced code blocks do not count. Links with a scheme
(`https:`, `mailto:`) are not fetched. Python 3 standard library only; exits 1 on a broken link.
"""

import collections
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def outside_code(text):
    """The lines of `text` outside fenced code blocks, with their line numbers."""
    fence = False
    for number, line in enumerate(text.split("\n"), 1):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if not fence:
            yield number, line


def anchors(path, cache={}):
    if path not in cache:
        seen, found = collections.Counter(), set()
        for _, line in outside_code(open(path, encoding="utf-8").read()):
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                s = slug(m.group(1))
                found.add(s if seen[s] == 0 else f"{s}-{seen[s]}")
                seen[s] += 1
        cache[path] = found
    return cache[path]


def check(path):
    problems = []
    text = open(path, encoding="utf-8").read()
    for number, line in outside_code(text):
        # inline code spans are not links
        for m in LINK.finditer(re.sub(r"`[^`]*`", "", line)):
            target = m.group(1)
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                continue
            file_part, _, fragment = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            where = f"{os.path.relpath(path, ROOT)}:{number}: {target}"
            if not os.path.exists(dest):
                problems.append(f"{where}: no such file")
            elif fragment:
                if not dest.endswith(".md"):
                    problems.append(f"{where}: an anchor into a file that is not Markdown")
                elif fragment not in anchors(dest):
                    problems.append(f"{where}: {os.path.relpath(dest, ROOT)} has no heading with anchor #{fragment}")
    return problems


def main():
    files = sys.argv[1:] or (
        [os.path.join(ROOT, "README.md")]
        + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
        + [os.path.join(ROOT, "deploy", "README.md")]
    )
    problems = []
    for f in files:
        problems += check(os.path.abspath(f))
    for p in problems:
        print(p)
    print(f"{len(files)} files checked, {len(problems)} broken links")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
