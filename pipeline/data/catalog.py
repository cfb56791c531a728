"""The datasets the pipeline knows by name (``data.name``): their classes and what suits them.

Both are ten classes of 28x28 grey images, so everything from ``prepare`` on is the same; what
differs is what a class is called, what the reports call one (``noun``), and whether a mirror
image is still of the same class (a flipped shirt is a shirt, a flipped 2 is not a 2).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Dataset:
    name: str  # data.name
    title: str  # in reports and figures
    classes: tuple[str, ...]  # the name of class 0, 1, ...
    noun: str  # what one class is called in the reports: "digit", "class"
    flippable: bool  # whether a left-right mirror image keeps its class


MNIST = Dataset(
    name="mnist",
    title="MNIST",
    classes=tuple(str(digit) for digit in range(10)),
    noun="digit",
    flippable=False,
)
FASHION_MNIST = Dataset(
    name="fashion_mnist",
    title="Fashion-MNIST",
    classes=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    noun="class",
    flippable=True,
)
DATASETS = {dataset.name: dataset for dataset in (MNIST, FASHION_MNIST)}


def dataset(name: str) -> Dataset:
    """The dataset called ``name`` (a key of DATASETS; config.py checks the name first)."""
    return DATASETS[name]
