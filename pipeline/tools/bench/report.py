"""The targets, and the report ``make bench`` prints: floors, epochs, breakdown, stages."""

from typing import Any

TARGETS = {
    "adam/float32/batch 128": 2.0,
    "momentum/float32/batch 128": 1.6,
    "sgd/float32/full batch": 1.3,
}


LOAD_TARGET_SECONDS = 0.5


PREPARE_TARGET_SECONDS = 5.0


CNN_TARGET = 1.8  # a CNN epoch / the GEMM floor of its layers (issue 29: was 2.0)
FAMILY_TARGET = 2.5  # LSTM, ViT or ResNet training steps / the GEMM floor of their products


TRAIN_MEMORY_TARGET = 3.0  # peak RSS of `train` / bytes of the float32 training array


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def cell(value: float | None, width: int, digits: int) -> str:
    """``value`` right-aligned in ``width`` characters, or a dash when there is none."""
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def check_targets(results: dict[str, Any]) -> dict[str, Any]:
    """Each target the issue sets, with the measured value and whether it is met."""
    checks: dict[str, Any] = {}
    for name, target in TARGETS.items():
        if name in results["runs"]:
            ratio = results["runs"][name]["ratio_to_float32_floor"]
            checks[name] = {"value": ratio, "target": target, "met": ratio <= target}
    load = results.get("loading")
    if load:
        checks["load prepared data (s)"] = {
            "value": load["seconds"],
            "target": LOAD_TARGET_SECONDS,
            "met": load["seconds"] < LOAD_TARGET_SECONDS,
        }
    prepare = results.get("prepare") or {}
    if "seconds" in prepare:
        checks["prepare (s)"] = {
            "value": prepare["seconds"],
            "target": PREPARE_TARGET_SECONDS,
            "met": prepare["seconds"] <= PREPARE_TARGET_SECONDS,
        }
    memory = results.get("train_memory") or {}
    if "peak_rss_bytes" in memory:
        ratio = memory["peak_rss_bytes"] / memory["train_array_float32_bytes"]
        checks["train peak memory / float32 training array"] = {
            "value": ratio,
            "target": TRAIN_MEMORY_TARGET,
            "met": ratio <= TRAIN_MEMORY_TARGET,
        }
    cnn = results.get("cnn")
    if cnn:
        checks["cnn epoch / its GEMM floor"] = {
            "value": cnn["ratio_to_floor"],
            "target": CNN_TARGET,
            "met": cnn["ratio_to_floor"] <= CNN_TARGET,
        }
    for family, section in results.get("families", {}).items():
        checks[f"{family} steps / their GEMM floor"] = {
            "value": section["ratio_to_floor"],
            "target": FAMILY_TARGET,
            "met": section["ratio_to_floor"] <= FAMILY_TARGET,
        }
    return checks


def family_lines(family: str, section: dict[str, Any]) -> list[str]:
    floor = section["floor"]
    return [
        "",
        f"{family.upper()} ({section['recipe']}: float32, batch {section['batch_size']}, "
        f"{section['steps']} steps, {section['products_per_step']} products a step; median of "
        f"{len(section['rounds'])} rounds)",
        f"  GEMM floor {floor['seconds']:.2f} s ({floor['flops'] / 1e9:.0f} GFLOP, "
        f"{floor['gflops_per_second']:.0f} GFLOP/s); steps {section['steps_seconds']:.2f} s = "
        f"{section['ratio_to_floor']:.2f} x the floor; an epoch of 55,000 images about "
        f"{section['epoch_seconds_estimate']:.0f} s",
    ]


def cnn_lines(cnn: dict[str, Any]) -> list[str]:
    floor, parts = cnn["floor"], cnn["breakdown_seconds"]
    lines = [
        "",
        f"CNN ({cnn['recipe']}: Adam, float32, batch {cnn['batch_size']}, {cnn['rows']:,} rows; "
        f"median of {len(cnn['rounds'])} rounds)",
        f"  GEMM floor {floor['seconds']:.2f} s per epoch ({floor['flops'] / 1e9:.0f} GFLOP, "
        f"{floor['gflops_per_second']:.0f} GFLOP/s); epoch {cnn['epoch_seconds']:.2f} s = "
        f"{cnn['ratio_to_floor']:.2f} x the floor",
        f"  one epoch with every layer timed ({cnn['breakdown_epoch_seconds']:.2f} s): "
        f"the floor's products {parts['products']:.2f}, the rest of the convolutions (padding, "
        f"im2col, bias) {parts['conv_copies']:.2f}, pooling {parts['pooling']:.2f}, other "
        f"elementwise {parts['elementwise']:.2f}, optimiser {parts['optimiser']:.2f}, "
        f"loss/batches/Python {parts['loss_batches_python']:.2f}",
        "  floor by layer: "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in floor["by_layer"].items()),
    ]
    augmentation = cnn["augmentation"]
    lines.append(
        f"  augmentation ({augmentation['recipe']}: shift {augmentation['shift']}, rotate "
        f"{augmentation['rotate']:g} degrees): {augmentation['seconds_per_epoch']:.2f} s per epoch"
    )
    memory = cnn.get("train_memory")
    if memory and "error" in memory:
        lines.append(f"  train stage (1 epoch of {cnn['recipe']}): failed: {memory['error']}")
    elif memory:
        peak, array = memory["peak_rss_bytes"], memory["train_array_float32_bytes"]
        lines.append(
            f"  train stage (1 epoch of {cnn['recipe']}): peak RSS {peak / 1e6:.0f} MB = "
            f"{peak / array:.1f} x the float32 training array ({array / 1e6:.0f} MB)"
        )
    return lines


def report_lines(results: dict[str, Any]) -> list[str]:
    machine = results["machine"]
    lines = [f"machine: {machine['cpu']}, {machine['cores']} cores, numpy {machine['numpy']}"]
    for blas in machine["blas"]:
        lines.append(
            f"BLAS: {blas['library']} {blas['version']}, kernel {blas['kernel']}, "
            f"{blas['threads']} thread{'' if blas['threads'] == 1 else 's'} "
            f"({blas['threading_layer']})"
        )
    for name, value in machine["environment"].items():
        lines.append(f"environment: {name}={value}")
    busy = machine["load_average_before"] >= 1
    lines.append(
        f"load average {machine['load_average_before']:.1f} before the run, "
        f"{results['load_average_after']:.1f} after (which counts this run)"
        + (": other programs were using the CPU, timings are noisy" if busy else "")
    )
    lines.append(f"subnormal float32 a *= 0.9: {results['subnormal_slowdown']:.1f}x slower")
    lines += ["", "GEMM floor: one epoch's matrix products alone (median over rounds)"]
    lines.append(f"{'batch':<12}{'dtype':<9}{'GFLOP':>8}{'seconds':>10}{'GFLOP/s':>10}")
    for batch, floors in results["floors"].items():
        for dtype, floor in floors.items():
            lines.append(
                f"{batch:<12}{dtype:<9}{floor['flops'] / 1e9:>8.2f}{floor['seconds']:>10.3f}"
                f"{floor['gflops_per_second']:>10.1f}"
            )
    lines += [
        "",
        "Epochs (median over rounds); ratio = epoch / float32 GEMM floor of the same round",
        f"{'configuration':<30}{'epoch s':>8}{'ratio':>7}{'own':>6} | "
        f"{'products':>8}{'elemwise':>9}{'optim':>7}{'shuffle':>8}",
    ]
    for name, run in results["runs"].items():
        parts = run["breakdown_seconds"]
        ratio = cell(run["ratio_to_float32_floor"], 7, 2)
        own = "" if run["dtype"] == "float32" else f"{run['ratio_to_own_dtype_floor']:.2f}"
        lines.append(
            f"{name:<30}{run['epoch_seconds']:>8.3f}{ratio}{own:>6} | "
            f"{parts['products']:>8.3f}{parts['elementwise_and_python']:>9.3f}"
            f"{parts['optimiser']:>7.3f}{parts['shuffling']:>8.3f}"
        )
    lines.append("(own: float64 epochs against the float64 floor; breakdown in seconds)")
    if results.get("loading"):
        seconds = results["loading"]["seconds"]
        lines.append(f"\nprepared data (train, val, test) loads in {seconds:.3f} s")
    for key, label in (("prepare", "prepare stage"), ("train_memory", "train stage (1 epoch)")):
        measured = results.get(key)
        if measured and "error" in measured:
            lines.append(f"{label}: failed: {measured['error']}")
        elif measured:
            seconds = f"{measured['seconds']:.2f} s, " if "seconds" in measured else ""
            lines.append(f"{label}: {seconds}peak RSS {measured['peak_rss_bytes'] / 1e6:.0f} MB")
    if results.get("cnn"):
        lines += cnn_lines(results["cnn"])
    for family, section in results.get("families", {}).items():
        lines += family_lines(family, section)
    lines.append(f"this benchmark's peak RSS: {results['peak_rss_bytes'] / 1e6:.0f} MB")
    lines += ["", "Targets"]
    for name, check in results["targets"].items():
        lines.append(
            f"  {name:<45} {check['value']:>7.3f}  target {check['target']:<5} "
            f"{verdict(check['met'])}"
        )
    return lines


def compare_lines(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Ratios (less sensitive to the machine's load than seconds) and epoch times of two
    benchmark results."""
    lines = [
        f"old: {old['machine'].get('commit')}  new: {new['machine'].get('commit')}",
        f"{'configuration':<30}{'old ratio':>10}{'new ratio':>10}{'old s':>8}{'new s':>8}",
    ]
    for name in sorted(set(old["runs"]) | set(new["runs"])):
        runs = [result["runs"].get(name) or {} for result in (old, new)]
        ratios = "".join(cell(run.get("ratio_to_float32_floor"), 10, 2) for run in runs)
        seconds = "".join(cell(run.get("epoch_seconds"), 8, 3) for run in runs)
        lines.append(f"{name:<30}{ratios}{seconds}")
    return lines
