"""The Python module: results equal the C++ library's and lrplab run's bit for bit, and torch's
references on real images; identities of the ledger and the targets; bad input as exceptions.

Run by ctest (test python_module) with PYTHONPATH=<build>/python and LRPLAB_EXE=<build>/lrplab.
"""

import gzip
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import lrplab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FMNIST = "/usr/share/datasets/fashion-mnist"
CNN = os.path.join(ROOT, "models", "fmnist_cnn.h5")
REAL = os.path.join(ROOT, "tests", "fixtures", "real")
FLOAT64 = lrplab.scalar == "float64"
DTYPE = np.float64 if FLOAT64 else np.float32  # lrplab's own precision


def tol(float32, float64):
    return float64 if FLOAT64 else float32


def worst_relative(a, b):
    """max |a - b| over max |b|: the error against a reference map, relative to its scale."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b).max() / np.abs(b).max()


def idx_images(count):
    """The first Fashion-MNIST test images in [0, 1] in lrplab's precision, read here without lrplab."""
    with gzip.open(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz")) as f:
        data = f.read()
    n = int.from_bytes(data[4:8], "big")
    # the idx format's default scale: each byte times 1/255 (in double), as data.scale documents
    return (np.frombuffer(data[16:], dtype=np.uint8).reshape(n, 1, 28, 28)[:count] * (1.0 / 255.0)).astype(DTYPE)


def idx_labels(count):
    with gzip.open(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz")) as f:
        return np.frombuffer(f.read()[8:], dtype=np.uint8)[:count].astype(np.int64)


@pytest.fixture(scope="module")
def cnn():
    return lrplab.load_model(CNN)


@pytest.fixture(scope="module")
def images():
    return idx_images(24)


CONFIG = """seed: 7
threads: 2
data:
  format: idx
  images: {fmnist}/t10k-images-idx3-ubyte.gz
  labels: {fmnist}/t10k-labels-idx1-ubyte.gz
  subset: {{begin: 0, end: 24}}
model: {{file: {cnn}}}
target: predicted
explain:
  - epsilon_gamma_box
  - {{name: gamma_rules, rules: [{{kind: conv2d, rule: gamma, params: {{gamma: 0.25}}}}, {{fallback: true, rule: epsilon}}]}}
  - gradient
  - {{name: smoothgrad, params: {{samples: 4}}}}
  - random
  - {{name: occlusion, params: {{window: 7}}}}
evaluate: {{conservation: true}}
output: {{results: {results}}}
"""


def write_config(tmp_path, name):
    path = tmp_path / f"{name}.yaml"
    path.write_text(CONFIG.format(fmnist=FMNIST, cnn=CNN, results=tmp_path / f"{name}.h5"))
    return path


# ---------------------------------------------------------------- the same numbers as C++


def test_explain_equals_the_run_of_the_cli_and_of_lrplab_run_bit_for_bit(tmp_path, cnn):
    cli_config, py_config = write_config(tmp_path, "cli"), write_config(tmp_path, "py")
    subprocess.run([os.environ["LRPLAB_EXE"], "run", str(cli_config)], check=True, capture_output=True)
    report = lrplab.run(py_config)
    assert report.samples == 24
    cli, py = lrplab.read_results(tmp_path / "cli.h5"), lrplab.read_results(report.results)
    x, ids = py["data"]["inputs"], py["data"]["indices"]
    assert np.array_equal(x, idx_images(24))  # the run's raw inputs are the images as numpy reads them
    seed = py["meta"].attrs["seed"]
    assert seed == 7
    methods = {
        "epsilon_gamma_box": dict(preset="epsilon_gamma_box"),
        "gamma_rules": dict(name="gamma_rules", rules=[{"kind": "conv2d", "rule": "gamma", "params": {"gamma": 0.25}},
                                                       {"fallback": True, "rule": "epsilon"}]),
        "gradient": dict(method="gradient"),
        "smoothgrad": dict(method="smoothgrad", params={"samples": 4}),
        "random": dict(method="random"),
        "occlusion": dict(method="occlusion", params={"window": 7}),
    }
    for name, how in methods.items():
        e = cnn.explain(x, sample_ids=ids, seed=seed, threads=2, **how)
        assert np.array_equal(e.relevance, py["explanations"][name]["relevance"]), name
        assert np.array_equal(e.relevance, cli["explanations"][name]["relevance"]), name
        assert e.relevance.dtype == (np.float64 if FLOAT64 else np.float32)
    # the ledger Python computes is the run's
    e = cnn.explain(x, preset="epsilon_gamma_box", ledger=True)
    assert np.array_equal(e.ledger["input_sum"], py["metrics"]["conservation"]["epsilon_gamma_box"]["input_sum"])
    assert np.array_equal(e.ledger["relative_error"], py["metrics"]["conservation"]["epsilon_gamma_box"]["relative_error"])


def test_the_run_report_and_the_results_file_say_the_same(tmp_path):
    report = lrplab.run(write_config(tmp_path, "report"), set={"threads": 1})
    r = lrplab.read_results(report.results)
    assert r["meta"].attrs["threads"] == 1
    assert r["config"].startswith("seed: 7")
    names = [m["name"] for m in report.methods]
    assert names == ["epsilon_gamma_box", "gamma_rules", "gradient", "smoothgrad", "random", "occlusion"]
    for m in report.methods:
        attrs = r["metrics"]["conservation"][m["name"]].attrs
        assert m["relative_error"]["mean"] == attrs["mean_relative_error"]
        assert m["relative_error"]["count"] == 24
    assert "epsilon_gamma_box" in report.table and "cons. err" in report.table


# ---------------------------------------------------------------- torch's references on real images


@pytest.mark.parametrize("model_file,reference,raw", [
    (CNN, "fmnist_cnn_gradients.h5", lambda x: x * 0.353 + 0.286),  # the fixture holds network units
    (os.path.join(REAL, "lenet.onnx"), "lenet_digits.h5", lambda x: x),
])
def test_explain_gives_torchs_logits_gradients_and_lrp_on_real_images(model_file, reference, raw):
    ref = lrplab.read_results(os.path.join(REAL, reference))
    model = lrplab.load_model(model_file)
    x = np.ascontiguousarray(raw(ref["inputs"]))
    labels = ref["labels"]
    assert worst_relative(model.forward(x), ref["logits"]) <= tol(1e-5, 1e-10)
    g = model.explain(x, method="gradient", target="label", labels=labels)
    assert np.array_equal(g.targets, labels)
    assert worst_relative(g.relevance, ref["gradients"]) <= tol(1e-5, 1e-10)
    for preset in ("epsilon_gamma_box", "epsilon_plus_flat"):
        e = model.explain(x, preset=preset, target="label", labels=labels)
        assert worst_relative(e.relevance, ref[f"lrp_{preset}"]) <= tol(2e-5, 1e-10), preset


def test_a_normalization_override_is_the_same_as_normalizing_the_inputs(cnn, images):
    identity = lrplab.load_model(CNN, normalization={"mean": [0.0], "std": [1.0]})
    assert identity.normalization["mean"] == [0.0] and "normalization" in identity.normalization["origin"]
    network_units = ((images.astype(np.float64) - 0.286) / 0.353).astype(DTYPE)
    assert worst_relative(identity.forward(network_units), cnn.forward(images)) <= tol(1e-5, 1e-12)


# ---------------------------------------------------------------- identities


def test_the_ledger_and_the_layer_maps_add_up(cnn, images):
    e = cnn.explain(images, preset="epsilon_gamma_box", ledger=True, layer_relevance=True)
    n = len(images)
    # the seed: the target's logit; the targets: the predicted classes
    assert np.array_equal(e.targets, np.argmax(e.logits, axis=1))
    assert np.allclose(e.ledger["output_seed"], e.logits[np.arange(n), e.targets], rtol=0, atol=0)
    # input sum = the map's sum (in double), and the first column of the layer sums
    sums = e.relevance.reshape(n, -1).astype(np.float64).sum(axis=1)
    assert np.allclose(e.ledger["input_sum"], sums, rtol=1e-12, atol=1e-12)
    assert np.allclose(e.ledger["layer_sums"][:, 0], sums, rtol=1e-12, atol=1e-12)
    assert np.allclose(e.ledger["relative_error"], np.abs(sums - e.ledger["output_seed"]) / np.abs(e.ledger["output_seed"]))
    # per layer: the relevance at each layer's input; the first layer's is the input map
    assert list(e.layer_relevance)[:2] == ["conv1", "bn1"] and "output" in e.layer_relevance
    assert np.array_equal(e.layer_relevance["conv1"], e.relevance)
    seed_map = np.zeros_like(e.logits)
    seed_map[np.arange(n), e.targets] = e.logits[np.arange(n), e.targets]
    assert np.array_equal(e.layer_relevance["output"], seed_map)
    assert e.layer_relevance["flatten"].shape == (n, 32, 7, 7)  # pool2's output map
    assert e.layer_relevance["fc2"].shape == e.layer_relevance["dropout"].shape
    # the pass rule of relu3 and dropout hands on what it gets
    assert np.array_equal(e.layer_relevance["relu3"], e.layer_relevance["dropout"])
    assert np.array_equal(e.layer_relevance["dropout"], e.layer_relevance["fc2"])
    assert np.allclose(e.ledger["layer_sums"][:, -1], e.ledger["output_seed"], rtol=1e-6)
    # the rule of each layer, named
    assert e.layer_rules[0].startswith("conv1: zbox(") and e.layer_rules[-1].startswith("fc2: epsilon(")


def test_gradient_times_input_is_the_gradient_times_the_normalized_input(cnn, images):
    g = cnn.explain(images, method="gradient")
    gx = cnn.explain(images, method="gradient_x_input")
    x = (images.astype(np.float64) - 0.286) / 0.353
    assert worst_relative(gx.relevance, g.relevance * x) <= tol(1e-6, 1e-14)


def test_several_targets_share_one_pass_and_equal_one_target_at_a_time(cnn, images):
    pair = cnn.explain(images, preset="epsilon_plus_flat", target=[3, 5])
    assert pair.relevance.shape == (len(images), 2, 1, 28, 28) and pair.targets.shape == (len(images), 2)
    for k, c in enumerate((3, 5)):
        one = cnn.explain(images, preset="epsilon_plus_flat", target=c)
        assert np.array_equal(pair.relevance[:, k], one.relevance)
        assert np.all(one.targets == c)
    top = cnn.explain(images, method="gradient", top_k=3)
    assert np.array_equal(top.targets, np.argsort(-top.logits, axis=1, kind="stable")[:, :3])
    everything = cnn.explain(images, method="gradient", target="all")
    assert everything.relevance.shape[1] == 10
    assert np.array_equal(everything.relevance[np.arange(len(images)), top.targets[:, 0]], top.relevance[:, 0])
    labels = idx_labels(len(images))
    by_label = cnn.explain(images, method="gradient", target="label", labels=labels)
    assert np.array_equal(by_label.targets, labels)


def test_a_run_with_a_target_list_stores_what_explain_returns_for_it(tmp_path, cnn):
    text = CONFIG.format(fmnist=FMNIST, cnn=CNN, results=tmp_path / "pair.h5")
    methods = text[text.index("explain:"):text.index("evaluate:")]
    config = tmp_path / "pair.yaml"
    config.write_text(text.replace("target: predicted", "target: [3, 5]")
                      .replace(methods, "explain: [epsilon_plus_flat, gradient]\n"))
    report = lrplab.run(config)
    assert report.samples == 48  # 24 samples, 2 targets each
    r = lrplab.read_results(report.results)
    assert r["model"].attrs["targets_per_sample"] == 2 and r["model"].attrs["target"] == "[3, 5]"
    assert r["data"]["inputs"].shape == (24, 1, 28, 28) and r["model"]["targets"].shape == (24, 2)
    for name, how in {"epsilon_plus_flat": dict(preset="epsilon_plus_flat"), "gradient": dict(method="gradient")}.items():
        e = cnn.explain(r["data"]["inputs"], target=[3, 5], ledger=True, **how)
        stored = r["explanations"][name]["relevance"]
        assert stored.shape == (24, 2, 1, 28, 28)
        # the run explains the two targets' 48 rows in one backward pass, explain() 24 rows per target
        assert worst_relative(stored, e.relevance) <= tol(2e-5, 1e-10), name
        assert np.array_equal(r["model"]["targets"], e.targets)
        seeds = r["metrics"]["conservation"][name]["output_seed"]
        assert seeds.shape == (24, 2)  # per-row metric arrays lead with [N, K] as the maps do
        assert worst_relative(seeds, e.ledger["output_seed"]) <= tol(1e-6, 1e-12), name


# ---------------------------------------------------------------- memory, GIL, catalogue


def test_results_are_numpy_arrays_over_lrplabs_buffers(cnn, images):
    e = cnn.explain(images, preset="epsilon_gamma_box")
    assert type(e.relevance.base).__name__ == "PyCapsule"  # numpy owns lrplab's buffer: no copy
    assert e.relevance.flags.c_contiguous and e.relevance.flags.writeable


def test_the_gil_is_released_while_lrplab_computes(cnn):
    x = idx_images(256)
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    thread = threading.Thread(target=count)
    thread.start()
    time.sleep(0.01)
    before = len(ticks)
    cnn.explain(x, method="integrated_gradients", params={"steps": 32}, threads=1)
    during = len(ticks) - before
    stop.set()
    thread.join()
    assert during >= 5  # the other Python thread kept running during the call


def test_the_catalogue_lists_rules_presets_methods_and_metrics():
    assert "gamma" in lrplab.rules() and "gamma=" in lrplab.rules()["gamma"]["parameters"]
    assert "epsilon_gamma_box" in lrplab.presets()
    assert {"lrp", "gradient", "integrated_gradients", "occlusion"} <= set(lrplab.methods())
    assert {"conservation", "pixel_flipping", "sparseness"} <= set(lrplab.metrics())
    assert "conv2d" in lrplab.layers()


def test_results_files_read_as_plain_python(tmp_path):
    report = lrplab.run(write_config(tmp_path, "read"))
    r = lrplab.read_results(report.results)
    assert isinstance(r["config"], str)
    assert isinstance(r["meta"].attrs["lrplab_version"], str)
    assert r["meta"].attrs["plugins"] == []
    layers = r["metrics"]["conservation"]["epsilon_gamma_box"].attrs["layer_names"]
    assert layers[:3] == ["conv1", "bn1", "relu1"] and len(layers) == 13
    # against h5py, an independent reader: a uint64 seed, a text dataset, an array
    h5py = pytest.importorskip("h5py")
    with h5py.File(report.results, "r") as f:
        assert r["explanations"]["gradient"].attrs["seed"] == int(f["explanations/gradient"].attrs["seed"])
        assert r["config"] == f["config"][()].decode()
        assert np.array_equal(r["explanations"]["random"]["relevance"], f["explanations/random/relevance"][()])
    assert r["data"].attrs_of("inputs")["units"].startswith("raw")
    assert np.array_equal(r["data"]["labels"], idx_labels(24))
    assert r["data"]["indices"].tolist() == list(range(24))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("make,message", [
    (lambda x: x.astype(np.int32), "expected a float32 or float64 array, got dtype int32"),
    (lambda x: x[:, :, :, ::2], "not C-contiguous"),
    (lambda x: np.asfortranarray(x), "not C-contiguous"),
    (lambda x: x[:, 0], "expected an array of shape [N, 1, 28, 28]"),
    (lambda x: x[0], "for one sample, pass x[None]"),
    (lambda x: x[:0], "the batch is empty"),
    (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 800, np.nan, x), "sample 1 has a non-finite value (nan) at flat position 16"),
    (lambda x: np.where(np.arange(x.size).reshape(x.shape) == 3, np.inf, x), "sample 0 has a non-finite value (inf)"),
    (lambda x: x.tolist(), "expected a numpy array, got list"),
    (lambda x: x * (np.finfo(DTYPE).max / 4), "layer 0 'conv1' (conv2d"),  # finite inputs, overflowing sums
])
def test_bad_arrays_raise_lrplab_errors(cnn, images, make, message):
    with pytest.raises(lrplab.Error) as caught:
        cnn.explain(make(images[:4]), preset="epsilon_gamma_box")
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("kwargs,message", [
    (dict(preset="epsilon_gama_box"), "did you mean 'epsilon_gamma_box'"),
    (dict(preset="epsilon_gamma_box", params={"gama": 1}), "unknown parameter 'gama'"),
    (dict(method="gradient", preset="epsilon_gamma_box"), "exactly one of preset=, rules= or method="),
    (dict(method="integrated_gradients", params={"steps": 0}), "steps"),
    (dict(method="gradient", target=10), "class 10 of sample 0 is out of range"),
    (dict(method="gradient", target="label"), "needs labels="),
    (dict(method="gradient", target="labels"), "expected 'predicted', 'label', 'all'"),
    (dict(method="gradient", top_k=11), "top_k = 11 must be between 1 and the model's 10 classes"),
    (dict(method="gradient", layer_relevance=True), "layer relevance is computed by LRP methods only"),
    (dict(rules=[{"kind": "conv9d", "rule": "gamma"}]), "is not a layer kind"),
    (dict(method="gradient", target="label", labels=[1, 2]), "labels: expected 4 whole numbers"),
])
def test_bad_arguments_raise_lrplab_errors(cnn, images, kwargs, message):
    with pytest.raises(lrplab.Error) as caught:
        cnn.explain(images[:4], **kwargs)
    assert message in str(caught.value)


def test_bad_files_and_configs_raise_lrplab_errors(tmp_path):
    with pytest.raises(lrplab.Error, match="no such file"):
        lrplab.load_model(tmp_path / "missing.h5")
    with pytest.raises(lrplab.Error, match="normalization"):
        lrplab.load_model(CNN, normalization={"std": [0.0]})
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIG.format(fmnist=FMNIST, cnn=CNN, results=tmp_path / "bad.h5").replace("target:", "targte:"))
    with pytest.raises(lrplab.Error) as caught:
        lrplab.run(bad)
    assert f"{bad}:" in str(caught.value) and "did you mean 'target'" in str(caught.value)
    with pytest.raises(lrplab.Error, match="plugins must be loaded before the first model"):
        lrplab.load_plugin("/nonexistent/plugin.so")


# ---------------------------------------------------------------- the example


def test_the_example_script_reproduces_the_cli_table(tmp_path):
    overrides = ["data.subset.end=40", "evaluate.pixel_flipping.random_repeats=2", f"output.heatmaps={tmp_path}/pictures"]
    cli = subprocess.run([os.environ["LRPLAB_EXE"], "run", "configs/quickstart.yaml"]
                         + sum((["--set", o] for o in overrides + [f"output.results={tmp_path}/cli.h5"]), []),
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    example = subprocess.run([sys.executable, "experiments/python/quickstart_table.py", "configs/quickstart.yaml"]
                             + sum((["--set", o] for o in overrides + [f"output.results={tmp_path}/py.h5"]), []),
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
    cli_rows = {}  # each method's first line: the main table (the metric suite's block comes after)
    for line in cli.splitlines():
        if line.startswith(("epsilon", "lrp0", "grad", "integrated", "random")):
            cli_rows.setdefault(line.split()[0], line[len(line.split()[0]):].split("  "))
    py_rows = [line for line in example.splitlines() if line.startswith(("epsilon", "lrp0", "grad", "integrated", "random"))]
    assert len(py_rows) == 9
    for line in py_rows:
        name = line.split()[0]
        # the five columns (four pixel-flipping cells and the conservation error) as the CLI prints them
        cells = [c.strip() for c in line[len(name):].split("  ") if c.strip()]
        cli_cells = [c.strip() for c in cli_rows[name] if c.strip()][:len(cells)]
        assert cells == cli_cells, name
    assert example.count("equal the run's") == 7 and "DIFFER" not in example
