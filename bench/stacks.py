"""Where a process's CPU went: a summary of py-spy's raw (collapsed) stacks.

Each sample is given to the library of its innermost frame (the code running when it was
taken: `nats`, `pydantic`, `uvicorn`, …, `services` for our own), and each of our own functions
gets every sample it is on the stack of (inclusive). Idle samples are left out by py-spy unless
it was run with `--idle`.

    py-spy record --pid PID --rate 100 --duration 15 --nonblocking --format raw -o gw.txt
    python -m bench.stacks gw.txt extractor.txt --top 12
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# `function (path/to/file.py:123)`, as py-spy names a frame.
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^()]*?)(?::\d+)?\)$")
_OWN = ("services", "contracts", "deploy")


@dataclass(frozen=True)
class Profile:
    samples: int
    by_library: Counter[str]  # innermost frame's library
    by_function: Counter[str]  # innermost frame
    own_inclusive: Counter[str]  # our functions, each sample counted once per function


def library_of(path: str) -> str:
    """The top-level package of a frame's file as py-spy names it (relative to its sys.path
    entry: `nats/js/client.py` -> `nats`, `json/decoder.py` -> `json`); ours by subpackage
    (`services/gateway/hub.py` -> `services.gateway`)."""
    parts = Path(path).parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            parts = parts[parts.index(marker) + 1 :]
            break
    else:
        for index, part in enumerate(parts):
            if part in _OWN or re.fullmatch(r"python3\.\d+", part):
                parts = parts[index + (part not in _OWN) :]
                break
    if not parts:
        return path or "?"
    head = parts[0].removesuffix(".py")
    if head in _OWN and len(parts) > 1:
        return f"{head}.{parts[1].removesuffix('.py')}"
    return head


def frame_parts(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), ""
    return match.group("function"), match.group("path")


def summarise(lines: Iterable[str]) -> Profile:
    samples = 0
    by_library: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += n
        function, path = frame_parts(frames[-1])
        library = library_of(path)
        by_library[library] += n
        by_function[f"{function} ({library})"] += n
        seen: set[str] = set()
        for frame in frames:
            function, path = frame_parts(frame)
            library = library_of(path)
            name = f"{library}.{function}"
            if library.startswith(_OWN) and name not in seen:
                seen.add(name)
                own[name] += n
    return Profile(samples, by_library, by_function, own)


def report(name: str, profile: Profile, top: int) -> str:
    def share(counter: Counter[str]) -> str:
        total = max(profile.samples, 1)
        return "\n".join(f"    {n / total:6.1%}  {key}" for key, n in counter.most_common(top))

    return (
        f"{name}: {profile.samples} samples\n"
        f"  innermost frame's library:\n{share(profile.by_library)}\n"
        f"  innermost function:\n{share(profile.by_function)}\n"
        f"  our functions, inclusive:\n{share(profile.own_inclusive)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="+", type=Path, help="py-spy --format raw outputs")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    for path in args.files:
        print(report(path.stem, summarise(path.read_text().splitlines()), args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
