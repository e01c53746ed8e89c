"""Summarise a py-spy profile (``py-spy record -f raw``): where the samples went.

    py-spy record -r 250 -f raw -o prof.txt -- python -m bench.append ...
    python -m bench.profile_summary prof.txt [--within LogWriter._commit_in] [--top 25]
    python -m bench.profile_summary prof.txt --events 30000 --rate 250 --cost _number --cost ...

Prints, for the samples whose stack holds ``--within`` (all samples if not given), the share
of *inclusive* time of each function (it or anything it called was running) and of *self* time
(it was the innermost frame). Idle threads (waiting in ``select``/``epoll``/a lock) are left
out, so shares are of busy samples.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

IDLE = ("select (selectors.py", "poll (selectors.py", "wait (threading.py", "_worker (concurrent")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def _name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    file = match["file"].rsplit("/", 1)[-1]
    return f"{match['func']} ({file})"


def summarise(path: Path, within: str | None, top: int) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    busy = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [_name(f) for f in stack.split(";") if f]
        if not frames or any(frames[-1].startswith(idle) for idle in IDLE):
            continue
        if within is not None and not any(within in f for f in frames):
            continue
        count = int(count_text)
        busy += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    out = [f"busy samples: {busy}", "", "| inclusive | self | function |", "|---:|---:|---|"]
    names = [n for n, _ in inclusive.most_common(top)]
    for name in names:
        out.append(f"| {inclusive[name] / busy:.0%} | {own[name] / busy:.0%} | `{name}` |")
    out += ["", "top self time:", ""]
    for name, count in own.most_common(top):
        out.append(f"- {count / busy:.1%} `{name}`")
    return "\n".join(out)


def costs(path: Path, functions: list[str], events: int, rate: float) -> str:
    """Microseconds per event (busy samples x sample interval / events) spent in each function
    (inclusive, matched as a substring of the frame), and in all busy samples."""
    counts = dict.fromkeys(functions, 0)
    busy = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [_name(f) for f in stack.split(";") if f]
        if not frames or any(frames[-1].startswith(idle) for idle in IDLE):
            continue
        count = int(count_text)
        busy += count
        for function in functions:
            if any(function in f for f in frames):
                counts[function] += count
    per = 1e6 / rate / events
    out = ["| where | µs per event |", "|---|---:|"]
    out += [f"| `{f}` | {counts[f] * per:.1f} |" for f in functions]
    out.append(f"| all busy samples | {busy * per:.1f} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--within", help="only samples whose stack holds this function")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--cost",
        action="append",
        help="print microseconds per event in this function instead (repeatable)",
    )
    parser.add_argument("--events", type=int, default=1, help="events the profile covers")
    parser.add_argument("--rate", type=float, default=250, help="py-spy samples per second")
    args = parser.parse_args()
    if args.cost:
        print(costs(args.profile, args.cost, args.events, args.rate))
    else:
        print(summarise(args.profile, args.within, args.top))


if __name__ == "__main__":
    main()
