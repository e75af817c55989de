"""Per-module mutation score from mutmut's results (``mutants/**/*.py.meta``), for `make mutation`.

score = killed / (mutants checked - equivalent ones), where a timeout or a type-check catch counts
as killed, and the equivalent mutants are those listed, each with its reason, in
``mutation-equivalents.txt`` (``mutant name  # reason``). Mutants not yet checked are counted
apart, so a partial run is never shown as a full one. Prints the survivors to look at.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "mutation-equivalents.txt"
KILLED = {1, 3, 36, 37, 24, -24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}


def equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    """Mutant name → why it changes nothing a user could see. A line without a reason is refused."""
    found: dict[str, str] = {}
    if not path.exists():
        return found
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, reason = line.partition("#")
        if not reason.strip():
            raise SystemExit(f"{path.name}:{number}: an equivalent mutant needs its reason after '#'")
        found[name.strip()] = reason.strip()
    return found


def module_results(mutants_dir: Path) -> dict[str, dict[str, int | None]]:
    results: dict[str, dict[str, int | None]] = {}
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        module = str(meta.relative_to(mutants_dir))[: -len(".meta")]
        data = json.loads(meta.read_text(encoding="utf-8"))
        results[module] = data.get("exit_code_by_key", {})
    return results


def main(argv: list[str]) -> int:
    mutants_dir = ROOT / "mutants"
    if not mutants_dir.is_dir():
        print("no mutants/ directory: run `make mutation` first", file=sys.stderr)
        return 2
    known = equivalents()
    survivors: list[str] = []
    misnamed: list[str] = []  # listed as equivalent, yet killed: the name now points at another mutant
    columns = ("score", "killed", "survived", "equivalent", "no tests", "unchecked")
    print(f"{'module':32}", *(f"{column:>10}" for column in columns))
    for module, codes in module_results(mutants_dir).items():
        tally: Counter[str] = Counter()
        for name, code in codes.items():
            if name in known and code in KILLED:
                tally["killed"] += 1
                misnamed.append(name)
            elif name in known:
                tally["equivalent"] += 1
            elif code is None:
                tally["unchecked"] += 1
            elif code in KILLED:
                tally["killed"] += 1
            elif code in SURVIVED:
                tally["survived"] += 1
                survivors.append(name)
            elif code in NO_TESTS:
                tally["no tests"] += 1
                survivors.append(f"{name} (no test reaches it)")
            else:
                tally["survived"] += 1
                survivors.append(f"{name} (exit code {code})")
        judged = tally["killed"] + tally["survived"] + tally["no tests"]
        if judged == 0 and tally["unchecked"] == 0:
            continue
        score = f"{100 * tally['killed'] / judged:.1f}%" if judged else "-"
        print(f"{module:32} {score:>10}", *(f"{tally[column]:>10}" for column in columns[1:]))
    stale = sorted(set(known) - {name for codes in module_results(mutants_dir).values() for name in codes})
    if stale:
        print(f"\n{len(stale)} listed equivalent mutants no longer exist (the code moved): {', '.join(stale[:5])}")
    if misnamed:
        print(
            f"\n{len(misnamed)} listed equivalent mutants are killed, so counted as killed: the code moved and "
            f"the name is now another mutant's (find the equivalent one's new number): {', '.join(misnamed[:5])}"
        )
    if survivors:
        print(f"\nsurviving mutants ({len(survivors)}); `.venv/bin/mutmut show NAME` shows the change:")
        for name in survivors:
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
