"""Report export: size of each page and warm export time, against nbconvert's own HTML export.

Runs the sample dealer's three report notebooks once with papermill (not timed), then, in
one process, exports each executed notebook N times with ``report.export.notebook_to_html``
and with nbconvert's ``HTMLExporter`` (lab template, inputs excluded: what
``jupyter nbconvert --to html --no-input`` does), and prints sizes, times and ratios.

    .venv/bin/python benchmarks/bench_report_export.py [DEALER_FILE] [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import papermill as pm
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ownercomm_kit.report import export  # noqa: E402

NOTEBOOKS = ("audit", "retention", "referrals")


def _time(fn, repeat: int) -> float:
    fn()  # warm: templates, plotly.js
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dealer_file", nargs="?", default=str(ROOT / "params" / "dealers" / "D001.yaml"))
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    from nbconvert import HTMLExporter

    lab = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    parameters = yaml.safe_load(Path(args.dealer_file).read_text())
    print(
        f"{'report':<10} {'inline MB':>9} {'shared kB':>9} {'nbconvert kB':>12} {'ours ms':>8} {'nbconvert ms':>12} {'speed-up':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in NOTEBOOKS:
            nb = pm.execute_notebook(
                str(ROOT / "notebooks" / f"{name}.ipynb"),
                str(Path(tmp) / f"{name}.ipynb"),
                parameters={**parameters, "out_dir": str(Path(tmp) / "out")},
                cwd=str(ROOT),
                progress_bar=False,
            )
            inline = export.notebook_to_html(nb, title=name)
            shared = export.notebook_to_html(nb, title=name, plotlyjs="shared")
            plain = lab.from_notebook_node(nb)[0]
            ours = _time(lambda: export.notebook_to_html(nb, title=name), args.repeat)
            theirs = _time(lambda: lab.from_notebook_node(nb), args.repeat)
            print(
                f"{name:<10} {len(inline.encode()) / 1e6:>9.2f} {len(shared.encode()) / 1e3:>9.0f} "
                f"{len(plain.encode()) / 1e3:>12.0f} {ours * 1e3:>8.0f} {theirs * 1e3:>12.0f} {theirs / ours:>7.1f}x"
            )
    print(
        f"plotly.js inline: {len(export.plotlyjs_code().encode()) / 1e6:.2f} MB once per page "
        "(nbconvert's page has no plotly.js: its charts would not draw offline)"
    )


if __name__ == "__main__":
    main()
