#!/usr/bin/env python3
"""The quickstart from Python, cell by cell as in a notebook.

    PYTHONPATH=build/release/python /usr/bin/python3 experiments/python/quickstart_table.py
    ... quickstart_table.py configs/quickstart.yaml --set data.subset.end=100

1. runs configs/quickstart.yaml (what `lrplab run` does: results file, heatmaps),
2. rebuilds the console table from the results file alone (plain Python over lrplab.read_results),
3. explains the run's first batch again with lrplab.load_model / Model.explain and checks that the maps
   equal the run's, bit for bit.
"""

import math
import re
import sys

import numpy as np

import lrplab


def cell(mean, se):
    if not math.isfinite(mean):
        return "      n/a        "
    return f"{mean:8.4f} ±{se if math.isfinite(se) else 0.0:7.4f}"


def table_from_results(results, order):
    """The run's console table (the pixel-flipping and conservation columns), from the file alone;
    `order`: the methods in the config's order."""
    width = max([6] + [len(m) for m in order])
    flipping = results["metrics"].get("pixel_flipping", {})
    conservation = results["metrics"].get("conservation", {})
    lines = [f"{'method':<{width}}  {'AOPC-MoRF':<17}  {'AOPC-LeRF':<17}  {'ABPC':<17}  {'MoRF - random':<17}  "
             f"{'cons. err':<10}"]
    for name in order:
        cells = []
        for score in ("aopc_morf", "aopc_lerf", "abpc", "aopc_morf_vs_random"):
            attrs = flipping[name].attrs if name in flipping else {}
            cells.append(cell(attrs.get("mean_" + score, math.nan), attrs.get("se_" + score, math.nan)))
        err = conservation[name].attrs.get("mean_relative_error", math.nan) if name in conservation else math.nan
        cons = f"{err:10.3e}" if math.isfinite(err) else f"{'n/a':>10}"
        lines.append(f"{name:<{width}}  " + "  ".join(cells) + f"  {cons}")
    return "\n".join(lines)


def main(argv):
    config = argv[0] if argv and not argv[0].startswith("--") else "configs/quickstart.yaml"
    overrides = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]

    # --- 1. run the experiment
    report = lrplab.run(config, set=overrides)
    print(f"ran {config}: {report.samples} samples, results in {report.results}")

    # --- 2. the table, from the results file
    results = lrplab.read_results(report.results)
    print(table_from_results(results, [m["name"] for m in report.methods]))

    # --- 3. explain the first images again, in this process
    model = lrplab.load_model(results["model"].attrs["file"])
    # The run's first forward pass: its first batch_size samples (500 unless the config says). The same
    # batch gives the same bits; another batch size changes only the last bits (the matrix products
    # block differently).
    found = re.search(r"^batch_size: *(\d+)", results["config"], re.MULTILINE)
    batch = min(int(found.group(1)) if found else 500, len(results["data"]["inputs"]))
    x = results["data"]["inputs"][:batch]  # raw units, as the run read them
    ids = results["data"]["indices"][:batch]
    seed = results["meta"].attrs["seed"]
    # the quickstart's methods, as Model.explain takes them (names as in the run: the random
    # streams of methods that draw are seeded by the run's seed and the method's name)
    quickstart = {
        "epsilon_gamma_box@gamma=0.25": dict(preset="epsilon_gamma_box", params={"gamma": 0.25}),
        "epsilon_plus_flat": dict(preset="epsilon_plus_flat"),
        "lrp0": dict(rules=[{"fallback": True, "rule": "zero"}], name="lrp0"),
        "gradient": dict(method="gradient"),
        "gradient_x_input": dict(method="gradient_x_input"),
        "integrated_gradients": dict(method="integrated_gradients", params={"steps": 16}),
        "random": dict(method="random"),
    }
    for name, how in quickstart.items():
        if name not in results["explanations"]:
            continue
        e = model.explain(x, sample_ids=ids, seed=seed, **how)
        same = np.array_equal(e.relevance, results["explanations"][name]["relevance"][:batch])
        print(f"  {name}: Python's maps of the first {batch} samples {'equal' if same else 'DIFFER FROM'} the run's")
        if not same:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
