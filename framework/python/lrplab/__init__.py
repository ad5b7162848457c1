"""lrplab from Python: explain numpy batches, run experiment configs, read results files.

    import lrplab
    model = lrplab.load_model("models/fmnist_cnn.h5")
    e = model.explain(x, preset="epsilon_gamma_box")   # x: numpy [N, 1, 28, 28], raw pixel values
    e.relevance, e.logits, e.targets, e.layer_rules

The numbers are those of the C++ library (and of `lrplab run`) bit for bit: this package only
converts between numpy and lrplab. Bad input raises lrplab.Error (a ValueError) with lrplab's
message. The reference is docs/python.md.
"""

from __future__ import annotations

import os

import numpy as np

from . import _lrplab
from ._lrplab import Error

Error.__module__ = "lrplab"

__all__ = [
    "Error", "Explanation", "Group", "Model", "RunReport", "layers", "load_model", "load_plugin", "methods",
    "metrics", "presets", "read_results", "rules", "run", "scalar", "version",
]

version = _lrplab.version
#: "float32" or "float64": the precision lrplab computes in (a build option).
scalar = _lrplab.scalar

load_plugin = _lrplab.load_plugin


def set_log_level(level: str) -> None:
    """lrplab's log on stderr: "warn" (the module's default), "info", "debug", "off"."""
    _lrplab.set_log_level(level)


def _catalogue(kind):
    return {name: {"parameters": params, "description": doc}
            for name, (params, doc) in _lrplab.catalogue()[kind].items()}


def rules() -> dict:
    """LRP rules: name -> {"parameters": "name=default ...", "description"}."""
    return _catalogue("rules")


def presets() -> dict:
    """LRP presets (composites), as rules()."""
    return _catalogue("presets")


def methods() -> dict:
    """Explanation methods ("lrp" and the baselines), as rules()."""
    return _catalogue("methods")


def layers() -> dict:
    """Layer kinds, as rules()."""
    return _catalogue("layers")


def metrics() -> dict:
    """Evaluation metrics (evaluate.<name> in a config), as rules()."""
    return _catalogue("metrics")


class Explanation:
    """One method's explanation of a batch.

    relevance        [N, *input_shape], or [N, K, *input_shape] for K targets per sample
    logits           [N, classes] (the forward pass every target shares)
    targets          [N] or [N, K] class indices
    layer_rules      per layer "layer name: rule(params)" (LRP; empty for other methods)
    layer_names      the model's layer names
    layer_relevance  with layer_relevance=True: {layer name: relevance at its input} and "output"
                     (the seed), each [N, ...] or [N, K, ...]
    ledger           with ledger=True: the conservation ledger, a dict of arrays (input_sum,
                     output_seed, relative_error, and for LRP layer_sums [N, layers+1],
                     bias_share, stabilizer_share [N, layers]), with a K axis for K targets
    method           the method's name
    """

    def __init__(self, raw: dict, several: bool):
        def stack(items):
            return np.stack(items, axis=1) if several else items[0]

        self.method = raw["method"]
        self.logits = raw["logits"]
        self.relevance = stack(raw["relevance"])
        self.targets = stack(raw["targets"])
        self.layer_names = list(raw["layer_names"])
        self.layer_rules = [f"{n}: {r}" for n, r in zip(self.layer_names, raw["layer_rules"])]
        self.layer_relevance = None
        if raw["layer_relevance"]:
            per_target = raw["layer_relevance"]
            self.layer_relevance = {name: stack([t[name] for t in per_target]) for name in per_target[0]}
        self.ledger = None
        if raw["ledger"]:
            per_target = raw["ledger"]
            self.ledger = {key: stack([t[key] for t in per_target]) for key in per_target[0]}

    def __repr__(self):
        return (f"Explanation(method={self.method!r}, relevance {self.relevance.dtype}{list(self.relevance.shape)}, "
                f"targets {list(self.targets.shape)})")


def _method_entry(preset, rules, method, params, maxpool_ties, name):
    given = [k for k, v in (("preset", preset), ("rules", rules), ("method", method)) if v is not None]
    if len(given) != 1:
        raise Error("explain: give exactly one of preset=, rules= or method= (got "
                    + (", ".join(given) if given else "none") + ")")
    entry = {}
    if preset is not None:
        entry["preset"] = preset
    elif rules is not None:
        entry["rules"] = list(rules)
    elif method == "lrp":
        raise Error("explain: method='lrp' needs its rules: pass preset= or rules= instead")
    else:
        entry["name"] = method
    if name is not None:
        entry["name"] = name
    elif rules is not None:
        entry["name"] = "lrp"
    if params:
        entry["params"] = dict(params)
    if maxpool_ties is not None:
        entry["maxpool_ties"] = maxpool_ties
    return entry


class Model:
    """A model opened as an experiment's `model.file` is: an lrplab HDF5 model file, an ONNX file
    or a YAML description, with batch norm folded for LRP. `normalization` ({"mean": [...], "std":
    [...], "range": [low, high]}) replaces the input normalization the file states."""

    def __init__(self, path, normalization=None):
        self._model = _lrplab.Model(os.fspath(path), normalization)
        d = self._model.describe()
        self.name = d["name"]
        self.path = d["path"]
        self.input_shape = tuple(d["input_shape"])
        self.classes = d["classes"]
        self.class_names = list(d["class_names"])
        self.layer_names = list(d["layer_names"])
        self.layer_kinds = list(d["layer_kinds"])
        self.normalization = dict(d["normalization"])
        self.summary = d["summary"]

    def __repr__(self):
        return f"Model({self.name!r}, input {list(self.input_shape)}, {self.classes} classes, {len(self.layer_names)} layers)"

    def forward(self, x, threads=None):
        """The logits [N, classes] of a raw batch x [N, *input_shape]."""
        return self._model.forward(x, threads or 0)

    def explain(self, x, preset=None, rules=None, method=None, params=None, target="predicted", top_k=None,
                labels=None, sample_ids=None, layer_relevance=False, ledger=False, maxpool_ties=None, name=None,
                threads=None, seed=0) -> Explanation:
        """Explains a raw batch x [N, *input_shape] (float32 or float64, C-contiguous, finite; in the
        data's raw units, e.g. pixels in [0, 1]: the model's normalization is applied here).

        The method is one of
          preset="epsilon_gamma_box"           an LRP preset (lrplab.presets()), params={"gamma": 0.1}
          rules=[{"kind": "conv2d", "rule": "gamma", "params": {"gamma": 0.25}}, {"fallback": True, "rule": "epsilon"}]
                                               an explicit rule list, as in a config's `rules:`
          method="integrated_gradients"        a method kind (lrplab.methods()), params={"steps": 16}
        The target is "predicted" (default), "label" (with labels=[...]), a class index, a list of
        classes, "all", or top_k=k (the k highest logits); several targets share one forward pass and
        add an axis K after the batch axis. sample_ids seed the methods that draw (random, SmoothGrad)
        as a run's sample indices do; seed is a run's `seed`.
        """
        entry = _method_entry(preset, rules, method, params, maxpool_ties, name)
        several = top_k is not None or isinstance(target, (list, tuple)) or (isinstance(target, str) and target == "all")
        raw = self._model.explain(x, entry, target=target, top_k=top_k, labels=labels, sample_ids=sample_ids,
                                  layer_relevance=layer_relevance, ledger=ledger, threads=threads or 0, seed=seed)
        return Explanation(raw, several)


def load_model(path, normalization=None) -> Model:
    """Opens a model file (see Model)."""
    return Model(path, normalization)


class RunReport(dict):
    """What lrplab.run returns: table (the console table), results (the HDF5 path), heatmaps
    (the pictures folder), samples, accuracy, seconds (per stage), total_seconds, and methods: one
    dict per method with its summaries ({"mean", "standard_error", "count", "skipped"}) of
    relative_error, aopc_morf, aopc_lerf, abpc, auc_morf, aopc_morf_vs_random, relevance_accuracy
    and scores (the metric suite's). Keys are attributes too."""

    __getattr__ = dict.__getitem__


def run(config, set=None, threads=None) -> RunReport:
    """Runs an experiment config as `lrplab run` does (results file, pictures), on this process.

    set: overrides as `--set` takes them: a dict {"key.path": value} or a list of "key.path=value"."""
    overrides = []
    if isinstance(set, dict):
        for key, value in set.items():
            overrides.append(f"{key}={_yaml_value(value)}")
    elif set is not None:
        overrides = [str(s) for s in set]
    if threads is not None:
        overrides.append(f"threads={int(threads)}")
    return RunReport(_lrplab.run(os.fspath(config), overrides))


def _yaml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# Text attributes that hold one item per line in the results file.
_LINE_LISTS = {"layer_names", "layer_rules", "overrides", "plugins", "unknown_share_layers"}


def _attributes(raw: dict) -> dict:
    return {name: (value.splitlines() if name in _LINE_LISTS and isinstance(value, str) else value)
            for name, value in raw.items()}


class Group(dict):
    """A group of a results file: a dict of its members (sub-groups, numpy arrays, str for text
    datasets), with .attrs (its attributes: str, int, float; the line-per-item ones such as
    layer_names as lists) and .attrs_of(name) for a dataset's attributes."""

    def __init__(self, raw):
        children, attributes = raw
        super().__init__()
        self.attrs = _attributes(attributes)
        self._dataset_attrs = {}
        for name, child in children.items():
            value, attrs = child
            if isinstance(value, dict):
                self[name] = Group(child)
            else:
                self[name] = value
                self._dataset_attrs[name] = _attributes(attrs)

    def attrs_of(self, name) -> dict:
        return self._dataset_attrs.get(name, {})

    def __repr__(self):
        return f"Group({list(self.keys())}, attrs={list(self.attrs)})"


def read_results(path) -> Group:
    """Reads a results file (docs/results.md describes its layout) into a Group tree:
    r = lrplab.read_results("results/quickstart.h5"); r["methods"]["gradient"]["relevance"]."""
    return Group(_lrplab.read_results(os.fspath(path)))
