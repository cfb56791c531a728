"""A scratchnn network's twin in PyTorch, and one training epoch of it, for ``make bench-peers``.

Only this module and ``peers.py`` import PyTorch, and only when the benchmark runs: it is not a
dependency of the project (``make bench-peers`` installs it into an environment of its own).
The twin has the same layers with the same settings, in PyTorch's layout (channels first), and
trains as ``train`` does: one shuffle per epoch, Adam with the same rate, betas and L2 weight
decay, softmax cross-entropy, batches gathered from the shuffled rows.
"""

import time
from types import ModuleType
from typing import Any

import numpy as np

import scratchnn as sn
from pipeline.config import Config


def twin_module(torch: ModuleType, network: sn.Network) -> Any:
    """``network``'s layers as a ``torch.nn.Sequential`` (float32); only the layer types of the
    benchmarked recipes have a twin, any other is refused by name."""
    nn = torch.nn
    modules = []
    for i, layer in enumerate(network.layers):
        settings = layer.settings()
        match layer.type_name:
            case "conv2d":
                channels, filters = layer.input_shape[-1], settings["filters"]
                modules.append(
                    nn.Conv2d(
                        channels,
                        filters,
                        settings["kernel"],
                        stride=settings["stride"],
                        padding=settings["padding"],
                    )
                )
            case "maxpool2d":
                modules.append(nn.MaxPool2d(settings["pool"], settings["stride"]))
            case "relu":
                modules.append(nn.ReLU())
            case "flatten":
                modules.append(nn.Flatten())
            case "dense":
                modules.append(nn.Linear(layer.input_shape[0], layer.output_shape[0]))
            case other:
                raise ValueError(f"bench-peers: layers[{i}] ({other}) has no PyTorch twin here")
    return nn.Sequential(*modules)


def channels_first(x: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """Rows (n, h*w*c) of channels-last images as (n, c, h, w), PyTorch's layout; flat inputs
    stay as they are."""
    if len(input_shape) != 3:
        return x
    return np.ascontiguousarray(x.reshape(len(x), *input_shape).transpose(0, 3, 1, 2))


class TorchRun:
    """``cfg``'s network and optimiser in PyTorch, trained an epoch at a time on ``x``, ``y``."""

    def __init__(
        self, torch: ModuleType, cfg: Config, network: sn.Network, x: np.ndarray, y: np.ndarray
    ) -> None:
        self.torch = torch
        torch.manual_seed(cfg.train.seed)
        self.model = twin_module(torch, network)
        opt = cfg.optimizer
        self.optimizer = torch.optim.Adam(
            self.model.parameters(),
            lr=opt.lr,
            betas=(opt.beta1, opt.beta2),
            eps=opt.eps,
            weight_decay=cfg.train.weight_decay,
        )
        self.loss = torch.nn.CrossEntropyLoss()
        self.x = torch.from_numpy(channels_first(x.astype(np.float32), network.input_shape))
        self.y = torch.from_numpy(y.astype(np.int64))
        assert cfg.train.batch_size is not None
        self.batch_size = cfg.train.batch_size
        self.generator = torch.Generator().manual_seed(cfg.train.seed)

    def epoch(self) -> float:
        """Seconds of one training epoch."""
        started = time.perf_counter()
        order = self.torch.randperm(len(self.x), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            self.optimizer.zero_grad(set_to_none=True)
            self.loss(self.model(self.x[rows]), self.y[rows]).backward()
            self.optimizer.step()
        return time.perf_counter() - started
