"""
Summarise py-spy's collapsed stacks (``--format raw``): where a hop's samples went.

``python3 bench/profile_summary.py FILE [--top N] [--under FUNCTION]``: the functions with
the most samples on the CPU, inclusive (the function and what it called) and self (the
function's own lines), as percentages of all samples of the file; ``--under`` counts only
the stacks that pass through a function whose name contains the text (e.g. ``link_frame``).
Idle samples (threads waiting in a poll or a lock) are left out by py-spy itself unless it
was run with ``--idle``.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Sequence


def read(path: Path) -> list[tuple[list[str], int]]:
    """Return (frames outermost first, samples) for each stack of the file."""
    stacks = []
    for line in path.read_text(errors='replace').splitlines():
        stack, _, count = line.rpartition(' ')
        if stack and count.isdigit():
            stacks.append((stack.split(';'), int(count)))
    return stacks


def short(frame: str) -> str:
    """Return ``function (file:line)`` with the file's directories dropped."""
    name, _, where = frame.partition(' (')
    return f'{name} ({Path(where.rstrip(")")).name})' if where else name


def summarise(stacks: Sequence[tuple[list[str], int]], top: int, under: str) -> str:
    """Return the report: inclusive and self tops over the stacks kept."""
    if under:
        stacks = [(frames, n) for frames, n in stacks
                  if any(under in frame.partition(' (')[0] for frame in frames)]
    total = sum(n for _, n in stacks)
    if not total:
        return 'no samples'
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, n in stacks:
        names = [short(frame) for frame in frames]
        for name in set(names):
            inclusive[name] += n
        own[names[-1]] += n
    lines = [f'{total} samples' + (f' through {under}' if under else '')]
    for title, counter in (('inclusive', inclusive), ('self', own)):
        lines.append(f'-- {title}')
        for name, n in counter.most_common(top):
            lines.append(f'{100 * n / total:5.1f}%  {name}')
    return '\n'.join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the summary of one file."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('file', type=Path)
    parser.add_argument('--top', type=int, default=25)
    parser.add_argument('--under', default='')
    args = parser.parse_args(argv)
    print(summarise(read(args.file), args.top, args.under))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
