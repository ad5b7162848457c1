#!/usr/bin/env python3
"""Reports functions longer than a limit and source files longer than a limit (house style: about
120 lines per function and 800 per file). A file that says why it is longer carries the comment
"size: <reason>" in its first 30 lines; a function that says why carries "size: <reason>" in the
5 lines above its definition.

    tests/check_sizes.py [--functions N] [--files N] [--strict] [PATH ...]   (default: framework rules experiments)

A function is found the way the code is formatted (clang-format, namespace bodies not indented):
a definition starts at column 0 and its body ends at the first "}" at column 0 after it. Exit 1
with --strict if something unexplained is over a limit."""
import argparse
import os
import re
import sys

def functions(lines):
    i = 0
    while i < len(lines):
        line = lines[i]
        start = i
        if line[:1].isalpha() or (line[:1] != '' and line[:1] in '_~'):
            # a signature may span several lines: find the line that opens the body
            j = i
            while j < len(lines) and j < i + 8 and not lines[j].rstrip().endswith('{') and not lines[j].rstrip().endswith(';'):
                j += 1
            if j < len(lines) and lines[j].rstrip().endswith('{') and '(' in ''.join(lines[i:j + 1]) \
                    and not re.match(r'^(namespace|struct|class|enum|union|extern|template\s*<[^>]*>\s*(struct|class))\b', line):
                k = j + 1
                while k < len(lines) and not lines[k].startswith('}'):
                    k += 1
                m = re.search(r'([\w:~<>]+)\s*\(', ' '.join(lines[i:j + 1]))
                name = m.group(1) if m else line.strip()
                yield start, k, name
                i = k + 1
                continue
        i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--functions', type=int, default=120)
    ap.add_argument('--files', type=int, default=800)
    ap.add_argument('--strict', action='store_true')
    ap.add_argument('paths', nargs='*', default=['framework', 'rules', 'experiments'])
    a = ap.parse_args()
    over = 0
    for root in a.paths:
        walk = [(root, [], [os.path.basename(root)])] if os.path.isfile(root) else os.walk(root)
        for d, _, names in walk:
            for n in sorted(names):
                if not n.endswith(('.cpp', '.hpp')):
                    continue
                path = os.path.join(d, n) if not os.path.isfile(root) else root
                lines = open(path, encoding='utf-8', errors='replace').read().split('\n')
                head = '\n'.join(lines[:30])
                if len(lines) > a.files:
                    said = 'size:' in head
                    print(f'{path}: {len(lines)} lines' + (' (explained)' if said else ''))
                    over += 0 if said else 1
                for s, e, name in functions(lines):
                    length = e - s + 1
                    if length > a.functions:
                        said = any('size:' in l for l in lines[max(0, s - 5):s])
                        print(f'{path}:{s + 1}: {name}: {length} lines' + (' (explained)' if said else ''))
                        over += 0 if said else 1
    return 1 if (a.strict and over) else 0


sys.exit(main())
