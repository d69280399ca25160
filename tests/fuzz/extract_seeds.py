#!/usr/bin/env python3
"""extract_seeds.py - the job and config harnesses' seed corpora, taken
from the documents the unit tests already hold.

Every run of adjacent C string literals in tests/unit/test_job.c (and
test_config.c) that looks like YAML (it holds a newline or ": ") becomes a
file, named by a hash of its bytes; the macros the tables use inside
literals (PROV) are expanded. etc/syncspool.yaml joins the config seeds.
Not run by make: the corpus is kept in the tree. To refresh it:

    python3 tests/fuzz/extract_seeds.py
"""
import hashlib
import os
import re
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MACROS = {"PROV": '"providers:\\n  square:\\n    command: [/bin/true]\\n"'}
TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|/\*.*?\*/|//[^\n]*|\w+|\s+|.', re.S)


def unescape(lit):
    """A C string literal's bytes (octal, hex and the usual escapes)."""
    out = bytearray()
    body = lit[1:-1]
    i = 0
    simple = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34,
              "'": 39, "a": 7, "b": 8, "f": 12, "v": 11, "?": 63}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("latin-1")
            i += 1
            continue
        e = body[i + 1]
        if e == "x":
            m = re.match(r"[0-9a-fA-F]+", body[i + 2:])
            out.append(int(m.group(0), 16) & 0xFF)
            i += 2 + len(m.group(0))
        elif e in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(int(m.group(0), 8) & 0xFF)
            i += 1 + len(m.group(0))
        else:
            out.append(simple[e])
            i += 2
    return bytes(out)


def documents(path):
    with open(path, encoding="latin-1") as f:
        src = f.read()
    for name, lit in MACROS.items():
        src = re.sub(r"\b%s\b" % name, lit, src)
    run = None
    for tok in TOKEN.findall(src):
        if tok.startswith('"'):
            run = (run or b"") + unescape(tok)
        elif tok.isspace() or tok.startswith("/*") or tok.startswith("//"):
            continue
        else:
            if run is not None and (b"\n" in run or b": " in run):
                yield run
            run = None


def write(dirname, docs):
    os.makedirs(dirname, exist_ok=True)
    n = 0
    for d in docs:
        name = hashlib.sha1(d).hexdigest()[:16]
        with open(os.path.join(dirname, name), "wb") as f:
            f.write(d)
        n += 1
    return n


def main():
    corpus = os.path.join(TOP, "tests", "fuzz", "corpus")
    job = list(documents(os.path.join(TOP, "tests/unit/test_job.c")))
    # A few the table builds in code, kept small.
    job += [b"", b"[" * 100, b"venue_id: v\nprovider: p\noptions: " +
            b"[" * 50 + b"]" * 50 + b"\n"]
    config = list(documents(os.path.join(TOP, "tests/unit/test_config.c")))
    with open(os.path.join(TOP, "etc/syncspool.yaml"), "rb") as f:
        config.append(f.read())
    print("job: %d, config: %d" % (write(os.path.join(corpus, "job"), job),
                                   write(os.path.join(corpus, "config"), config)))


if __name__ == "__main__":
    sys.exit(main())
