#!/usr/bin/python3
"""PyTorch baseline for the Fashion-MNIST training-speed comparisons.

Trains the same architecture as models/fmnist_cnn.yaml (--model cnn, the default) or
models/fmnist_resnet.yaml (--model resnet: torchvision's BasicBlock, as that description writes it
out) with the optimizer of its training config (configs/fmnist_train.yaml: Adam 1e-3;
configs/fmnist_resnet_train.yaml: see --optimizer) and batch 64 on 2 threads, and prints the wall
time of each epoch, so that `lrplab train CONFIG` can be compared with it on the same machine.
Run with Debian's interpreter (it sees python3-torch and python3-torchvision):

    /usr/bin/python3 experiments/pytorch_fmnist_baseline.py [--model resnet] [--epochs 3] [--threads 2]
"""
import argparse
import gzip
import struct
import time

import numpy as np
import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n = struct.unpack(">II", raw[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", raw[8:16])
        return np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, rows, cols)
    return np.frombuffer(raw, np.uint8, offset=8)


def model():
    # Same layers, order and sizes as models/fmnist_cnn.yaml.
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Dropout(0.25), nn.Linear(64, 10))


def resnet():
    # Same layers, order and sizes as models/fmnist_resnet.yaml.
    from torchvision.models.resnet import BasicBlock

    def down(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout))

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        BasicBlock(16, 16), BasicBlock(16, 32, stride=2, downsample=down(16, 32)),
        BasicBlock(32, 64, stride=2, downsample=down(32, 64)),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--model", choices=["cnn", "resnet"], default="cnn")
    ap.add_argument("--optimizer", choices=["adam", "sgd"], default="adam",
                    help="sgd: momentum 0.9, weight decay 5e-4 (with --lr)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    mean, std = 0.2860, 0.3530
    x = (read_idx(f"{DATA}/train-images-idx3-ubyte.gz").astype(np.float32) / 255 - mean) / std
    y = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64)
    xt = (read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255 - mean) / std
    yt = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    x, y, xt, yt = map(torch.from_numpy, (x, y, xt, yt))
    net = model() if args.model == "cnn" else resnet()
    if args.optimizer == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}")
    for epoch in range(args.epochs):
        net.train()
        start = time.perf_counter()
        order = torch.randperm(len(x))
        for i in range(0, len(x), args.batch):
            idx = order[i:i + args.batch]
            opt.zero_grad()
            loss = loss_fn(net(x[idx]), y[idx])
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - start
        net.eval()
        with torch.no_grad():
            acc = (net(xt).argmax(1) == yt).float().mean().item()
        print(f"epoch {epoch + 1}: {seconds:.2f} s, test accuracy {acc:.4f}", flush=True)


if __name__ == "__main__":
    main()
