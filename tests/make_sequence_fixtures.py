#!/usr/bin/python3
"""Writes the LSTM / embedding fixtures for lrplab's model file and ONNX import from PyTorch models.

1. tests/fixtures/hdf5/lstm_model.h5: a seeded torch model (nn.LSTM(4, 5, num_layers=2, bidirectional=True,
   batch_first=True) + nn.Linear(10, 3) reading torch.cat((h_n[-2], h_n[-1]), 1)) in float64, written with h5py
   alone in lrplab's model-file layout: the architecture YAML written by hand here, one dataset per PyTorch
   parameter under /weights/<layer>/ straight from the state_dict (weight_ih_l0 [20, 4], ...).
   tests/fixtures/hdf5/lstm_reference.h5: inputs [6, 7, 4] and PyTorch's float64 logits [6, 3].
   Read by tests/test_model_file.cpp.

2. tests/fixtures/onnx/lstm_*.onnx (torch.onnx.export, opset 13, float32 weights, symbolic batch) with
   <name>.txt references (format: tests/fixtures/onnx/README.md); the reference logits are computed in float64
   from the same float32 weights. Models:
     lstm_uni       nn.LSTM(3, 4) -> Linear(4, 2) on h_n[-1]
     lstm_bi2       nn.LSTM(3, 4, 2 layers, bidirectional) -> Linear(8, 3) on cat(h_n[-2], h_n[-1])
     lstm_emb_uni2  nn.Embedding(11, 3) -> nn.LSTM(3, 4, 2 layers) -> Linear(4, 2) on out[:, -1]
     lstm_bi2_opset9, lstm_emb_uni2_opset9   the same models exported with opset 9 (Slice + Squeeze readouts)
     lstm_emb_bi    nn.Embedding(9, 5) -> nn.LSTM(5, 3, bidirectional, bias=False) -> Linear(6, 2) on cat(h_n[-2], h_n[-1])
   and copies of lstm_uni.onnx / lstm_bi2.onnx edited to what lrplab refuses (error tests, no .txt):
     lstm_err_clip, lstm_err_peephole, lstm_err_input_forget, lstm_err_activations, lstm_err_sequence_lens,
     lstm_err_initial_h, lstm_err_layout, lstm_err_bi_last_step (out[:, -1] of a bidirectional LSTM),
     lstm_err_first_layer (h_n[0] of a 2-layer LSTM), lstm_err_cell (reads c_n).
   Read by tests/test_onnx_import.cpp.

Needs torch, onnx, h5py, numpy (Debian: /usr/bin/python3):
    /usr/bin/python3 tests/make_sequence_fixtures.py
"""
import copy
import os

import h5py
import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
HDF5 = os.path.join(HERE, "fixtures", "hdf5")
ONNX = os.path.join(HERE, "fixtures", "onnx")
OPSET = 13


class SeqNet(torch.nn.Module):
    def __init__(self, d, h, layers, bi, bias=True, vocab=0, read="h", classes=2):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, d) if vocab else None
        self.lstm = torch.nn.LSTM(d, h, num_layers=layers, bidirectional=bi, bias=bias, batch_first=True)
        self.fc = torch.nn.Linear(h * (2 if bi else 1), classes)
        self.bi = bi
        self.read = read

    def forward(self, x):
        if self.emb is not None:
            x = self.emb(x)
        out, (h_n, c_n) = self.lstm(x)
        if self.read == "h":
            z = torch.cat((h_n[-2], h_n[-1]), dim=1) if self.bi else h_n[-1]
        elif self.read == "out":
            z = out[:, -1]
        elif self.read == "h0":
            z = h_n[0]
        else:  # "c"
            z = c_n[-1]
        return self.fc(z)


# ---------------------------------------------------------------- 1. the h5py-written model file

ARCHITECTURE = """name: torch_lstm
input_shape: [7, 4]
classes: [neg, neu, pos]
layers:
  - {kind: lstm, name: rnn, hidden: 5, num_layers: 2, bidirectional: 1}
  - {kind: dense, name: head, out: 3}
"""


def write_model_file():
    torch.manual_seed(20241126)
    net = SeqNet(4, 5, 2, True, classes=3).double().eval()
    x = torch.randn(6, 7, 4, dtype=torch.float64)
    with torch.no_grad():
        logits = net(x)
    path = os.path.join(HDF5, "lstm_model.h5")
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "lrplab-model"
        f.attrs["format_version"] = 1
        f.attrs["name"] = "torch_lstm"
        f.attrs["source"] = "tests/make_sequence_fixtures.py (torch nn.LSTM + nn.Linear, float64)"
        f["architecture"] = ARCHITECTURE
        for key, value in net.lstm.state_dict().items():  # weight_ih_l0, weight_hh_l0, bias_ih_l0, ...
            f[f"weights/rnn/{key}"] = value.numpy()
        for key, value in net.fc.state_dict().items():
            f[f"weights/head/{key}"] = value.numpy()
    with h5py.File(os.path.join(HDF5, "lstm_reference.h5"), "w") as f:
        f["inputs"] = x.numpy()
        f["logits"] = logits.numpy()


# ---------------------------------------------------------------- 2. ONNX

def write_tensor(out, name, array, per_line=6):
    array = np.asarray(array, dtype=np.float64)
    out.write(f"tensor {name} {array.ndim} " + " ".join(str(d) for d in array.shape) + "\n")
    flat = array.reshape(-1)
    for i in range(0, flat.size, per_line):
        out.write(" ".join(repr(float(v)) for v in flat[i:i + per_line]) + "\n")


def export(net, x, name, layers, opset=OPSET):
    path = os.path.join(ONNX, name + ".onnx")
    torch.onnx.export(net, (x,), path, opset_version=opset, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    with torch.no_grad():
        logits = copy.deepcopy(net).double()(x if x.dtype == torch.int64 else x.double())
    with open(os.path.join(ONNX, name + ".txt"), "w") as out:
        out.write("# lrplab <-> PyTorch ONNX import fixture; written by tests/make_sequence_fixtures.py -- do not edit\n")
        out.write(f"# torch {torch.__version__}, onnx {onnx.__version__}; opset {opset}; float32 weights, "
                  "reference logits in float64\n")
        out.write("lrplab-onnx-fixture 1\n")
        out.write(f"model {name}.onnx\n")
        shape = tuple(x.shape[1:])
        out.write(f"input_shape {len(shape)} " + " ".join(str(d) for d in shape) + "\n")
        for kind, layer in layers:
            out.write(f"layer {kind} {layer}\n")
        write_tensor(out, "input", x.double().numpy())
        write_tensor(out, "logits", logits.numpy())
        out.write("end\n")
    return onnx.load(path)


def lstm_node(model):
    return next(n for n in model.graph.node if n.op_type == "LSTM")


def save(model, name):
    onnx.save(model, os.path.join(ONNX, name + ".onnx"))


def export_plain(net, x, name):
    path = os.path.join(ONNX, name + ".onnx")
    torch.onnx.export(net, (x,), path, opset_version=OPSET, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})


def write_onnx():
    torch.manual_seed(20241127)
    uni = SeqNet(3, 4, 1, False).eval()
    x_uni = torch.randn(4, 6, 3)
    m_uni = export(uni, x_uni, "lstm_uni", [("lstm", "lstm"), ("dense", "fc")])

    bi2 = SeqNet(3, 4, 2, True, classes=3).eval()
    x_bi2 = torch.randn(3, 5, 3)
    export(bi2, x_bi2, "lstm_bi2", [("lstm", "lstm"), ("dense", "fc")])

    emb_uni2 = SeqNet(3, 4, 2, False, vocab=11, read="out").eval()
    x_emb = torch.randint(0, 11, (5, 8))
    export(emb_uni2, x_emb, "lstm_emb_uni2", [("embedding", "emb"), ("lstm", "lstm"), ("dense", "fc")])
    # Opset 9 writes h_n[-1] and out[:, -1] as a one-element Slice + Squeeze instead of a Gather.
    export(bi2, x_bi2, "lstm_bi2_opset9", [("lstm", "lstm"), ("dense", "fc")], opset=9)
    export(emb_uni2, x_emb, "lstm_emb_uni2_opset9", [("embedding", "emb"), ("lstm", "lstm"), ("dense", "fc")], opset=9)

    emb_bi = SeqNet(5, 3, 1, True, bias=False, vocab=9).eval()
    x_emb_bi = torch.randint(0, 9, (3, 4))
    export(emb_bi, x_emb_bi, "lstm_emb_bi", [("embedding", "emb"), ("lstm", "lstm"), ("dense", "fc")])

    # Edited copies of lstm_uni.onnx: one unsupported feature each.
    def edited(name, edit):
        m = copy.deepcopy(m_uni)
        edit(m, lstm_node(m))
        save(m, name)

    edited("lstm_err_clip", lambda m, n: n.attribute.append(helper.make_attribute("clip", 3.0)))
    edited("lstm_err_input_forget", lambda m, n: n.attribute.append(helper.make_attribute("input_forget", 1)))
    edited("lstm_err_layout", lambda m, n: n.attribute.append(helper.make_attribute("layout", 1)))
    edited("lstm_err_activations",
           lambda m, n: n.attribute.append(helper.make_attribute("activations", ["Sigmoid", "Relu", "Tanh"])))

    def peephole(m, n):
        m.graph.initializer.append(numpy_helper.from_array(np.zeros((1, 12), np.float32), "peephole"))
        n.input.append("peephole")  # input 7, after the initial states (inputs 5 and 6)
    edited("lstm_err_peephole", peephole)

    def sequence_lens(m, n):
        m.graph.initializer.append(numpy_helper.from_array(np.full((4,), 6, np.int32), "lengths"))
        n.input[4] = "lengths"
    edited("lstm_err_sequence_lens", sequence_lens)

    def initial_h(m, n):
        m.graph.initializer.append(numpy_helper.from_array(np.full((1, 4, 4), 0.5, np.float32), "h0"))
        n.input[5] = "h0"
    edited("lstm_err_initial_h", initial_h)

    torch.manual_seed(5)
    export_plain(SeqNet(3, 4, 1, True, read="out").eval(), torch.randn(2, 5, 3), "lstm_err_bi_last_step")
    export_plain(SeqNet(3, 4, 2, False, read="h0").eval(), torch.randn(2, 5, 3), "lstm_err_first_layer")
    export_plain(SeqNet(3, 4, 1, False, read="c").eval(), torch.randn(2, 5, 3), "lstm_err_cell")


if __name__ == "__main__":
    write_model_file()
    write_onnx()
