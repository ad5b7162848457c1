#!/usr/bin/python3
"""Writes the HDF5 fixtures in tests/fixtures/hdf5/ (see the README there): an independent oracle for
lrplab's model file format and HDF5 data reader.

A small PyTorch CNN (conv, batch norm in eval mode with nontrivial running statistics, ReLU, max
pooling, a grouped conv without bias, average pooling, flatten, linear, batch norm 1d, linear) gets
seeded weights; this script writes it as an lrplab model file with h5py only, following the layout
the README documents (the architecture YAML is written by hand here, not by lrplab), and stores the
logits PyTorch computes in float64 for a few inputs, and for an NHWC uint8 image file with labels.
tests/test_model_file.cpp and tests/test_hdf5_data.cpp load these files with lrplab and compare.

Needs torch, h5py and numpy (Debian: /usr/bin/python3 with python3-h5py and PyTorch):
    /usr/bin/python3 tests/make_hdf5_fixtures.py
"""
import os

import h5py
import numpy as np
import torch

SEED = 20240611
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "hdf5")

# The lrplab model description of the network below, written by hand (the README's YAML format).
ARCHITECTURE = """\
name: torch_cnn
input_shape: [3, 8, 8]
normalization: {mean: [0.5, 0.4, 0.3], std: [0.25, 0.2, 0.3], range: [0, 1]}
classes: [ant, bee, cat, dog, eel]
layers:
  - {kind: conv2d, name: conv1, out_channels: 4, kernel: 3, padding: 1}
  - {kind: batchnorm, name: bn1}
  - {kind: relu, name: relu1}
  - {kind: maxpool2d, name: pool1, kernel: 2}
  - {kind: conv2d, name: conv2, out_channels: 6, kernel: 3, padding: 1, groups: 2, bias: 0}
  - {kind: relu, name: relu2}
  - {kind: avgpool2d, name: pool2, kernel: 2}
  - {kind: flatten, name: flatten}
  - {kind: dense, name: fc1, out: 8}
  - {kind: batchnorm, name: bn2, eps: 0.001}
  - {kind: relu, name: relu3}
  - {kind: dense, name: fc2, out: 5}
"""


def make_network():
    torch.manual_seed(SEED)
    layers = torch.nn.ModuleDict()
    net = torch.nn.Sequential()
    specs = [
        ("conv1", torch.nn.Conv2d(3, 4, 3, padding=1)),
        ("bn1", torch.nn.BatchNorm2d(4)),
        ("relu1", torch.nn.ReLU()),
        ("pool1", torch.nn.MaxPool2d(2)),
        ("conv2", torch.nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=False)),
        ("relu2", torch.nn.ReLU()),
        ("pool2", torch.nn.AvgPool2d(2)),
        ("flatten", torch.nn.Flatten()),
        ("fc1", torch.nn.Linear(24, 8)),
        ("bn2", torch.nn.BatchNorm1d(8, eps=1e-3)),
        ("relu3", torch.nn.ReLU()),
        ("fc2", torch.nn.Linear(8, 5)),
    ]
    for name, module in specs:
        net.add_module(name, module)
        layers[name] = module
    net = net.double()
    with torch.no_grad():
        for name in ("bn1", "bn2"):
            bn = getattr(net, name)
            c = bn.num_features
            bn.weight.copy_(torch.rand(c, dtype=torch.float64) + 0.5)
            bn.bias.copy_(0.2 * torch.randn(c, dtype=torch.float64))
            bn.running_mean.copy_(0.3 * torch.randn(c, dtype=torch.float64))
            bn.running_var.copy_(torch.rand(c, dtype=torch.float64) * 1.5 + 0.5)
        for name in ("conv1", "conv2", "fc1", "fc2"):
            m = getattr(net, name)
            m.weight.mul_(2.0)  # away from PyTorch's small default init, so the logits are O(1)
        net.fc2.weight.mul_(8.0)
    return net.eval()


def write_model(path, net):
    """The lrplab model file layout, with h5py only."""
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "lrplab-model"          # a Python str: variable-length UTF-8
        f.attrs["format_version"] = 1               # int64
        f.attrs["name"] = np.bytes_("torch_cnn")    # fixed-length bytes: lrplab reads these too
        f.attrs["source"] = "written by tests/make_hdf5_fixtures.py (PyTorch %s)" % torch.__version__
        f.attrs["config"] = "seed: %d\nnote: a hand-written fixture\n" % SEED
        f.attrs["seed"] = SEED
        f.attrs["epochs"] = np.int32(3)
        f.attrs["train_accuracy"] = np.float32(0.5)
        f.attrs["validation_accuracy"] = -1.0
        f.attrs["test_accuracy"] = 0.75
        f.attrs["lrplab_version"] = "none (h5py)"
        f.attrs["created"] = "2024-06-11T00:00:00Z"
        f["architecture"] = ARCHITECTURE            # a scalar string dataset
        w = f.create_group("weights")
        for name, module in net.named_children():
            params = {k: v.detach().numpy() for k, v in module.state_dict().items() if k != "num_batches_tracked"}
            if not params:
                continue
            g = w.create_group(name)
            for key, value in params.items():
                g[key] = value.astype(np.float64)   # PyTorch's own shapes, float64


def add_string_variants(f):
    """Root attributes in every string storage h5py can produce, read by tests/test_hdf5.cpp."""
    f.attrs["s_vlen_utf8"] = "Größe ✓"
    f.attrs.create("s_vlen_ascii", "plain", dtype=h5py.string_dtype("ascii"))
    f.attrs["s_fixed_nullpad"] = np.bytes_("fixed")
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(10)
    tid.set_strpad(h5py.h5t.STR_SPACEPAD)
    aid = h5py.h5a.create(f.id, b"s_fixed_spacepad", tid, h5py.h5s.create(h5py.h5s.SCALAR))
    aid.write(np.array(b"padded", dtype="S10"))
    f.attrs["one_element"] = np.array([7], dtype=np.int16)
    f.attrs["unsigned"] = np.uint64(2**63 + 5)
    f.attrs["whole_float"] = 3.0
    f.attrs["flag"] = True                          # an HDF5 enum: not a number for lrplab
    f["text_fixed"] = np.bytes_("fixed dataset")
    f["text_vlen"] = "variable dataset ✓"


def main():
    os.makedirs(OUT, exist_ok=True)
    net = make_network()
    write_model(os.path.join(OUT, "model.h5"), net)

    gen = torch.Generator().manual_seed(SEED + 1)
    inputs = torch.rand(4, 3, 8, 8, dtype=torch.float64, generator=gen)
    with torch.no_grad():
        logits = net(inputs)
    with h5py.File(os.path.join(OUT, "reference.h5"), "w") as f:
        f["inputs"] = inputs.numpy()
        f["logits"] = logits.numpy()
        add_string_variants(f)

    rng = np.random.RandomState(SEED + 2)
    images = rng.randint(0, 256, size=(6, 8, 8, 3)).astype(np.uint8)   # N, H, W, C
    labels = np.array([4, 0, 3, 1, 2, 4], dtype=np.uint8)
    x = torch.from_numpy(images.astype(np.float64) / 255.0).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        data_logits = net(x)
    with h5py.File(os.path.join(OUT, "data_nhwc.h5"), "w") as f:
        f["images"] = images
        f["labels"] = labels
        f["logits"] = data_logits.numpy()
    for name in ("model.h5", "reference.h5", "data_nhwc.h5"):
        print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")


if __name__ == "__main__":
    main()
