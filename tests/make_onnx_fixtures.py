#!/usr/bin/env python3
"""Writes the ONNX import fixtures in tests/fixtures/onnx/ (read by tests/test_onnx_import.cpp, tag [onnx]).

Requirements: Python 3 with torch (1.13; the committed fixtures were exported by torch 1.13.0a0), onnx and numpy.
Nothing here fetches or installs anything. On the development machine: /usr/bin/python3.

    /usr/bin/python3 tests/make_onnx_fixtures.py [--out DIR]

Every model is a small seeded network exported by torch.onnx.export(opset_version=13) in eval mode:

  mlp.onnx       float64. Linear (Gemm) -> ReLU -> Linear -> BatchNorm1d -> Tanh -> Dropout -> Identity -> Linear
                 -> Sigmoid -> Linear. Static batch dimension (3). torch drops Dropout and Identity from an eval-mode
                 export, so the script inserts a Dropout node (opset 13: ratio as an initializer input, no
                 training_mode) and an Identity node afterwards, where nn.Dropout / nn.Identity were (both are the
                 identity at inference, so the logits are unchanged).
  cnn.onnx       float64, symbolic batch dimension. Conv (padding 1) -> ReLU -> BatchNorm2d (eval, nontrivial
                 running statistics) -> MaxPool2d(2) -> F.pad zero padding (torch 1.13 computes the pads with a
                 ConstantOfShape/Concat/Reshape/Slice/Transpose/Cast subgraph of constants) -> Conv (stride 2)
                 -> BatchNorm2d (torch folds it into the conv: its weight initializer is 'onnx::Conv_..') -> ReLU
                 -> AvgPool2d(3, stride 1, padding 1) (exported as Pad + AveragePool) -> grouped 1x1 Conv -> ReLU
                 -> AdaptiveAvgPool2d(1) (GlobalAveragePool) -> nn.Flatten -> Linear -> Softmax (trailing, dropped
                 by the importer: the reference logits are the pre-softmax values).
  cnn_view.onnx  float64, symbolic batch. Conv (dilation 2) -> ReLU -> MaxPool2d(3, stride 2, padding 1) -> Conv
                 -> ReLU -> AvgPool2d(2) -> x.view(x.size(0), -1) (Shape/Gather/Unsqueeze/Concat + Reshape)
                 -> x.reshape(-1, 12) (a constant shape) -> Linear -> LogSoftmax (dropped).
  matmul.onnx    float32. x.reshape(-1, 12) of a [N, 3, 4] input -> x @ W + b (MatMul + Add, W [in, out]) -> ReLU
                 -> x @ W + b. The second layer's weight and bias are moved from initializers into Constant nodes
                 afterwards (torch 1.13 emits either, depending on the model).
  leaky.onnx     Linear -> LeakyReLU -> Linear: once an unsupported op, imported since as leaky_relu (node 1 '/act/LeakyRelu').
  asym_pad.onnx  F.pad(x, (0, 1, 0, 1)) -> Conv: an asymmetric Pad (node '/Pad').
  asym_conv.onnx written with onnx.helper: a Conv node 'conv_asym' whose pads are [0, 0, 1, 1].
  branch.onnx    x + relu(fc(x)): not sequential (the Add reads the graph input again).
  float16.onnx   written with onnx.helper: a Gemm whose weight initializer is float16.

Next to each loadable model, <name>.txt holds a few inputs and the logits PyTorch computed, in float64 (for the
float32 matmul model: its float32 weights and float32-representable inputs evaluated by the same torch model cast
to float64, so the reference has no float32 rounding). Format: the tensor blocks of tests/fixtures/zennit/README.md:

    lrplab-onnx-fixture 1
    model <file.onnx>
    input_shape <rank> <d0> ...
    layer <kind> <name>                      the layers lrplab should build, in order
    tensor input <rank> <N> <d0> ...         then the values, row-major
    tensor logits 2 <N> <classes>
    end
"""
import argparse
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def seeded_init(model, seed):
    """Reproducible weights: normal weights scaled by 1/sqrt(fan_in), small biases, batch norms with γ of both
    signs, nonzero β and running statistics away from (0, 1)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) / fan_in ** 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.2)
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = m.num_features
                sign = torch.where(torch.rand(c, generator=gen) < 0.25, -1.0, 1.0).to(m.weight.dtype)
                m.weight.copy_(sign * (0.5 + torch.rand(c, generator=gen, dtype=m.weight.dtype)))
                m.bias.copy_(torch.randn(c, generator=gen, dtype=m.bias.dtype) * 0.2)
                m.running_mean.copy_(torch.randn(c, generator=gen, dtype=m.running_mean.dtype) * 0.3)
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=gen, dtype=m.running_var.dtype))
    return model.eval()


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 8)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(8, 8)
        self.bn = nn.BatchNorm1d(8, eps=1e-3)
        self.act2 = nn.Tanh()
        self.drop = nn.Dropout(0.2)
        self.same = nn.Identity()
        self.fc3 = nn.Linear(8, 6)
        self.act3 = nn.Sigmoid()
        self.fc4 = nn.Linear(6, 4)

    def forward(self, x):
        x = self.act2(self.bn(self.fc2(self.relu1(self.fc1(x)))))
        x = self.same(self.drop(x))
        return self.fc4(self.act3(self.fc3(x)))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.bn1 = nn.BatchNorm2d(4)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2)
        self.bn2 = nn.BatchNorm2d(6)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.AvgPool2d(3, stride=1, padding=1)
        self.conv3 = nn.Conv2d(6, 6, 1, groups=2)
        self.relu3 = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(6, 3)
        self.softmax = nn.Softmax(dim=1)

    def logits(self, x):
        x = self.pool1(self.bn1(self.relu1(self.conv1(x))))  # 11x11 -> 5x5
        x = F.pad(x, (1, 1, 1, 1))                            # -> 7x7
        x = self.relu2(self.bn2(self.conv2(x)))               # -> 3x3
        x = self.relu3(self.conv3(self.pool2(x)))             # -> 3x3
        return self.fc(self.flatten(self.gap(x)))

    def forward(self, x):
        return self.softmax(self.logits(x))


class CNNView(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 3, 3, dilation=2)           # 12x12 -> 8x8
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(3, stride=2, padding=1)     # -> 4x4
        self.conv2 = nn.Conv2d(3, 3, 1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.AvgPool2d(2)                          # -> 2x2
        self.fc = nn.Linear(12, 5)

    def logits(self, x):
        x = self.pool2(self.relu2(self.conv2(self.pool1(self.relu1(self.conv1(x))))))
        x = x.view(x.size(0), -1)
        x = x.reshape(-1, 12)
        return self.fc(x)

    def forward(self, x):
        return F.log_softmax(self.logits(x), dim=1)


class Affine(nn.Module):
    """x @ weight + bias with weight [in, out]: exported as MatMul + Add."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


class MatMulNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = Affine(12, 7)
        self.act = nn.ReLU()
        self.out = Affine(7, 3)

    def forward(self, x):
        return self.out(self.act(self.hidden(x.reshape(-1, 12))))


class Leaky(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.LeakyReLU(0.1)
        self.fc2 = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class AsymPad(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Branch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.relu = nn.ReLU()

    def forward(self, x):
        return x + self.relu(self.fc(x))


def export(model, x, path, dynamic_batch):
    kwargs = {}
    if dynamic_batch:
        kwargs['dynamic_axes'] = {'input': {0: 'batch'}, 'output': {0: 'batch'}}
    torch.onnx.export(model, x, path, opset_version=OPSET, input_names=['input'], output_names=['output'],
                      do_constant_folding=True, **kwargs)
    return onnx.load(path)


def insert_after(model_proto, producer_output, nodes, initializers=()):
    """Inserts `nodes` (a chain reading `producer_output`) right after the node that writes it and rewires the
    former consumers to the chain's last output."""
    g = model_proto.graph
    last = nodes[-1].output[0]
    for n in g.node:
        for k, name in enumerate(n.input):
            if name == producer_output:
                n.input[k] = last
    index = next(i for i, n in enumerate(g.node) if producer_output in n.output)
    for k, n in enumerate(nodes):
        g.node.insert(index + 1 + k, n)
    g.initializer.extend(initializers)


def initializers_to_constants(model_proto, names):
    """Moves the named initializers into Constant nodes at the top of the graph (same tensor names)."""
    g = model_proto.graph
    keep = [t for t in g.initializer if t.name not in names]
    moved = [t for t in g.initializer if t.name in names]
    del g.initializer[:]
    g.initializer.extend(keep)
    for k, t in enumerate(moved):
        node = helper.make_node('Constant', [], [t.name], name=f'/{t.name}/Constant', value=t)
        g.node.insert(k, node)


def write_tensor(out, name, array, per_line=6):
    array = np.asarray(array, dtype=np.float64)
    out.write(f'tensor {name} {array.ndim} ' + ' '.join(str(d) for d in array.shape) + '\n')
    flat = array.reshape(-1)
    for i in range(0, flat.size, per_line):
        out.write(' '.join(repr(float(v)) for v in flat[i:i + per_line]) + '\n')


def write_reference(path, onnx_name, x, logits, layers):
    with open(path, 'w') as out:
        out.write('# lrplab <-> PyTorch ONNX import fixture; written by tests/make_onnx_fixtures.py -- do not edit\n')
        out.write(f'# torch {torch.__version__}, onnx {onnx.__version__}; opset {OPSET}; reference logits in float64\n')
        out.write('lrplab-onnx-fixture 1\n')
        out.write(f'model {onnx_name}\n')
        shape = tuple(x.shape[1:])
        out.write(f'input_shape {len(shape)} ' + ' '.join(str(d) for d in shape) + '\n')
        for kind, name in layers:
            out.write(f'layer {kind} {name}\n')
        write_tensor(out, 'input', x.detach().double().numpy())
        write_tensor(out, 'logits', logits.detach().double().numpy())
        out.write('end\n')


def check_round_trip(model_proto):
    onnx.checker.check_model(model_proto)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'onnx'))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    out = lambda name: os.path.join(args.out, name)  # noqa: E731
    torch.set_grad_enabled(False)

    # ---- mlp: float64, static batch
    mlp = seeded_init(MLP().double(), 100)
    x = torch.randn(3, 10, generator=torch.Generator().manual_seed(101), dtype=torch.float64)
    m = export(mlp, x, out('mlp.onnx'), dynamic_batch=False)
    ops = [n.op_type for n in m.graph.node]
    assert 'Dropout' not in ops and 'Identity' not in ops, ops  # torch drops both in eval mode
    tanh_out = next(n.output[0] for n in m.graph.node if n.op_type == 'Tanh')
    ratio = numpy_helper.from_array(np.array(0.2, dtype=np.float32), name='drop.ratio')
    insert_after(m, tanh_out, [
        helper.make_node('Dropout', [tanh_out, 'drop.ratio'], ['/drop/Dropout_output_0'], name='/drop/Dropout'),
        helper.make_node('Identity', ['/drop/Dropout_output_0'], ['/same/Identity_output_0'], name='/same/Identity'),
    ], [ratio])
    check_round_trip(m)
    onnx.save(m, out('mlp.onnx'))
    write_reference(out('mlp.txt'), 'mlp.onnx', x, mlp(x), [
        ('dense', 'fc1'), ('relu', 'relu1'), ('dense', 'fc2'), ('batchnorm', 'bn'), ('tanh', 'act2'),
        ('dropout', 'drop'), ('identity', 'same'), ('dense', 'fc3'), ('sigmoid', 'act3'), ('dense', 'fc4')])

    # ---- cnn: float64, symbolic batch, trailing softmax
    cnn = seeded_init(CNN().double(), 200)
    x = torch.randn(3, 2, 11, 11, generator=torch.Generator().manual_seed(201), dtype=torch.float64)
    m = export(cnn, x, out('cnn.onnx'), dynamic_batch=True)
    check_round_trip(m)
    write_reference(out('cnn.txt'), 'cnn.onnx', x, cnn.logits(x), [
        ('conv2d', 'conv1'), ('relu', 'relu1'), ('batchnorm', 'bn1'), ('maxpool2d', 'pool1'), ('conv2d', 'conv2'),
        ('relu', 'relu2'), ('avgpool2d', 'pool2'), ('conv2d', 'conv3'), ('relu', 'relu3'),
        ('global_avgpool', 'gap'), ('flatten', 'flatten'), ('dense', 'fc')])

    # ---- cnn_view: float64, symbolic batch, x.view(x.size(0), -1), trailing log_softmax
    cnn_view = seeded_init(CNNView().double(), 300)
    x = torch.randn(2, 1, 12, 12, generator=torch.Generator().manual_seed(301), dtype=torch.float64)
    m = export(cnn_view, x, out('cnn_view.onnx'), dynamic_batch=True)
    check_round_trip(m)
    write_reference(out('cnn_view.txt'), 'cnn_view.onnx', x, cnn_view.logits(x), [
        ('conv2d', 'conv1'), ('relu', 'relu1'), ('maxpool2d', 'pool1'), ('conv2d', 'conv2'), ('relu', 'relu2'),
        ('avgpool2d', 'pool2'), ('flatten', 'Reshape'), ('flatten', 'Reshape_1'), ('dense', 'fc')])

    # ---- matmul: float32, MatMul + Add, the second layer's parameters in Constant nodes
    mm = seeded_init(MatMulNet(), 400)
    x = torch.randn(3, 3, 4, generator=torch.Generator().manual_seed(401), dtype=torch.float32)
    m = export(mm, x, out('matmul.onnx'), dynamic_batch=True)
    assert {'out.weight', 'out.bias'} <= {t.name for t in m.graph.initializer}
    initializers_to_constants(m, {'out.weight', 'out.bias'})
    check_round_trip(m)
    onnx.save(m, out('matmul.onnx'))
    write_reference(out('matmul.txt'), 'matmul.onnx', x, mm.double()(x.double()), [
        ('flatten', 'Reshape'), ('dense', 'hidden'), ('relu', 'act'), ('dense', 'out')])

    # ---- models that must be refused
    export(seeded_init(Leaky(), 500), torch.randn(2, 4), out('leaky.onnx'), dynamic_batch=True)
    export(seeded_init(AsymPad(), 600), torch.randn(2, 1, 5, 5), out('asym_pad.onnx'), dynamic_batch=True)
    export(seeded_init(Branch(), 700), torch.randn(2, 4), out('branch.onnx'), dynamic_batch=True)

    w = numpy_helper.from_array(np.ones((2, 1, 2, 2), dtype=np.float32) / 4, name='conv_asym.weight')
    graph = helper.make_graph(
        [helper.make_node('Conv', ['input', 'conv_asym.weight'], ['output'], name='conv_asym', kernel_shape=[2, 2],
                          pads=[0, 0, 1, 1])],
        'asym_conv', [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['batch', 1, 4, 4])],
        [helper.make_tensor_value_info('output', TensorProto.FLOAT, ['batch', 2, 4, 4])], [w])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)], producer_name='make_onnx_fixtures')
    check_round_trip(m)
    onnx.save(m, out('asym_conv.onnx'))

    w = numpy_helper.from_array(np.arange(6, dtype=np.float16).reshape(2, 3), name='half.weight')
    graph = helper.make_graph(
        [helper.make_node('Gemm', ['input', 'half.weight'], ['output'], name='/half/Gemm', transB=1)],
        'float16', [helper.make_tensor_value_info('input', TensorProto.FLOAT16, ['batch', 3])],
        [helper.make_tensor_value_info('output', TensorProto.FLOAT16, ['batch', 2])], [w])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)], producer_name='make_onnx_fixtures')
    check_round_trip(m)
    onnx.save(m, out('float16.onnx'))

    for name in sorted(os.listdir(args.out)):
        print(f'{name}: {os.path.getsize(out(name))} bytes')


if __name__ == '__main__':
    main()
