"""The anjana/pycanon side of the k-anonymity benchmark, run with the peer venv's python.

anjana and pycanon pin exact numpy/pandas/scipy versions that clash with veil's, so this script
runs in ``bench/peers/anjana/.venv`` (see ``bench/peers/venv.py``) and talks to the bench script
through one JSON line on stdout.

``run.py anonymize --data adult.csv --hierarchies DIR --qi sex,age,... --sensitive salary-class
--k 5 [--l 2] [--supp 5] --out release.csv`` anonymizes with anjana (k-anonymity, or k-anonymity
plus distinct l-diversity with ``--l``) and prints ``{"seconds", "rows", "suppressed", "levels",
"error", ...}``; ``seconds`` times the anjana call only (not reading data or hierarchies).

``run.py check --release release.csv --qi ... --sensitive ...`` measures k and distinct l of any
``;``-separated release with pycanon and prints ``{"k": int, "l": int, "rows", "classes"}``.

Input files use the ARX layout: the data CSV is ``;``-separated with a header, and each
hierarchy is ``DIR/<prefix><attr>.csv`` (``;``-separated, no header, column i = level i, level 0
the raw value).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

Hierarchies = dict[str, dict[int, pd.Series]]


def read_table(path: Path) -> pd.DataFrame:
    """Read a ``;``-separated CSV as strings, so values match the hierarchy cells exactly.

    ``keep_default_na=False`` keeps cells such as ``NA`` or empty strings as values: pycanon
    groups with pandas, which would silently drop rows with a missing quasi-identifier.
    """
    return pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)


def hierarchy_file(directory: Path, attr: str, prefix: str) -> Path:
    """Where the hierarchy of ``attr`` lives (ARX names them ``adult_hierarchy_<attr>.csv``)."""
    exact = directory / f"{prefix}{attr}.csv"
    if exact.exists():
        return exact
    found = sorted(directory.glob(f"*{attr}.csv"))
    found = [p for p in found if p.stem.endswith(f"_{attr}") or p.stem == attr]
    if len(found) != 1:
        raise SystemExit(f"no single hierarchy file for {attr!r} in {directory}: {found}")
    return found[0]


def load_hierarchies(directory: Path, attrs: list[str], prefix: str) -> Hierarchies:
    """Build anjana's hierarchy dict ``{attr: {level: Series}}`` from ARX hierarchy files.

    anjana maps a value from level i-1 to level i by finding the first row whose level-(i-1)
    cell equals it, so each level must be a column aligned row by row with the raw values: that
    is exactly one column of the ARX file.
    """
    result: Hierarchies = {}
    for attr in attrs:
        path = hierarchy_file(directory, attr, prefix)
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle, delimiter=";") if row]
        depth = {len(row) for row in rows}
        if len(depth) != 1:
            raise SystemExit(f"{path}: rows have different numbers of levels {sorted(depth)}")
        columns = list(zip(*rows, strict=True))
        result[attr] = {level: pd.Series(list(col), dtype=object)
                        for level, col in enumerate(columns)}
    return result


def check_coverage(data: pd.DataFrame, hierarchies: Hierarchies) -> None:
    """Fail clearly when a data value is missing from its hierarchy.

    anjana would otherwise stop with a bare ``IndexError`` deep inside ``apply_hierarchy``.
    """
    for attr, levels in hierarchies.items():
        missing = set(data[attr]) - set(levels[0])
        if missing:
            raise SystemExit(f"values of {attr!r} missing from its hierarchy: "
                             f"{sorted(missing)[:10]}")


def infer_levels(release: pd.DataFrame, qi: list[str],
                 hierarchies: Hierarchies) -> list[int] | None:
    """The hierarchy level of each quasi-identifier in ``release`` (anjana does not return it).

    The level of a column is the lowest one whose values contain every value in the column (as
    anjana's own ``utils.get_transformation``); with no value shared between levels, as in the
    ARX hierarchies, this is the level anjana applied. ``None`` for an empty release or a column
    that fits no single level.
    """
    if release.empty:
        return None
    levels = []
    for attr in qi:
        values = set(release[attr])
        level = next((lvl for lvl, col in sorted(hierarchies[attr].items())
                      if values <= set(col)), None)
        if level is None:
            return None
        levels.append(level)
    return levels


def anonymize(args: argparse.Namespace) -> dict[str, Any]:
    """Run anjana once and write its release; the timing covers the anjana call alone."""
    from anjana.anonymity import k_anonymity, l_diversity

    qi = split(args.qi)
    data = read_table(args.data)
    hierarchies = load_hierarchies(args.hierarchies, qi, args.prefix)
    check_coverage(data, hierarchies)
    result: dict[str, Any] = {"seconds": None, "rows": None, "suppressed": None,
                              "levels": None, "error": None, "input_rows": len(data),
                              "k": args.k, "l": args.l, "supp": args.supp}
    # anjana prints progress ("The data verifies ...") to stdout; keep stdout for the JSON line.
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            if args.l is None:
                release = k_anonymity(data, [], qi, args.k, args.supp, hierarchies)
            else:
                release = l_diversity(data, [], qi, args.sensitive, args.k, args.l,
                                      args.supp, hierarchies)
    except Exception as exc:
        result["seconds"] = time.perf_counter() - start
        result["error"] = f"anjana raised {type(exc).__name__}: {exc}"
        return result
    result["seconds"] = time.perf_counter() - start
    if release.empty:
        result["error"] = "anjana returned an empty table (it found no anonymization)"
        return result
    # After suppressing, anjana returns ``drop(...).reset_index()``, which adds the old row
    # numbers as a column named "index": not part of the release.
    extra = [c for c in release.columns if c not in data.columns]
    release = release.drop(columns=extra)[list(data.columns)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    release.to_csv(args.out, sep=";", index=False)
    result["rows"] = len(release)
    result["suppressed"] = len(data) - len(release)
    result["levels"] = infer_levels(release, qi, hierarchies)
    return result


def check(args: argparse.Namespace) -> dict[str, Any]:
    """k and distinct l of a release, measured by pycanon (the independent checker).

    ``classes`` (number of equivalence classes) comes from pandas, for comparison with ARX.
    """
    from pycanon.anonymity import k_anonymity, l_diversity

    qi = split(args.qi)
    release = read_table(args.release)
    if release.empty:
        raise SystemExit(f"{args.release}: no rows")
    # pycanon takes group labels as positions (``iloc``), so the index must be 0..n-1; a fresh
    # ``read_csv`` guarantees that.
    classes = release.groupby(qi, sort=False).ngroups
    return {"k": int(k_anonymity(release, qi)),
            "l": int(l_diversity(release, qi, [args.sensitive])),
            "rows": len(release), "classes": int(classes)}


def split(names: str) -> list[str]:
    """Comma-separated column names as a list."""
    return [name.strip() for name in names.split(",") if name.strip()]


def parser() -> argparse.ArgumentParser:
    """The command line: ``anonymize`` and ``check``."""
    top = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)

    anon = sub.add_parser("anonymize", help="k-anonymize (and l-diversify) with anjana")
    anon.add_argument("--data", type=Path, required=True, help="input CSV, ';'-separated")
    anon.add_argument("--hierarchies", type=Path, required=True,
                      help="folder of ARX hierarchy CSVs")
    anon.add_argument("--prefix", default="adult_hierarchy_",
                      help="hierarchy file name before the attribute (default %(default)s)")
    anon.add_argument("--qi", required=True, help="comma-separated quasi-identifiers")
    anon.add_argument("--sensitive", required=True, help="sensitive attribute")
    anon.add_argument("--k", type=int, required=True)
    anon.add_argument("--l", type=int, default=None, help="distinct l-diversity (optional)")
    anon.add_argument("--supp", type=float, default=0.0,
                      help="suppression limit, percent of rows (default 0)")
    anon.add_argument("--out", type=Path, required=True, help="release CSV to write")
    anon.set_defaults(handler=anonymize)

    chk = sub.add_parser("check", help="measure k and distinct l with pycanon")
    chk.add_argument("--release", type=Path, required=True)
    chk.add_argument("--qi", required=True)
    chk.add_argument("--sensitive", required=True)
    chk.set_defaults(handler=check)
    return top


def main(argv: list[str] | None = None) -> int:
    """Parse, run, print one JSON line (the last line of stdout)."""
    args = parser().parse_args(argv)
    print(json.dumps(args.handler(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
