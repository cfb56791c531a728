"""The DVC remote on the cluster's S3 server: push after repro; a fresh clone pulls data, model
and reports, and `dvc repro` there has nothing to do. Experiments go the same way: `dvc exp
push` to a Git remote (their refs) and the DVC remote (their outputs); a fresh clone of that Git
remote `dvc exp pull`s them, lists them, and `dvc exp apply` restores their params, metrics
and model. A queued experiment does not travel until it has run."""

import json
import secrets
import subprocess

from tests.cluster.conftest import client_env
from tests.conftest import write_digits_csv
from tests.test_dvc_pipeline import TINY_EXPERIMENT, commit, project  # noqa: F401 (a fixture)


def dvc(folder, env, *args: str) -> str:
    result = subprocess.run(
        ["dvc", *args], cwd=folder, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"dvc {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def test_push_then_pull_in_a_fresh_clone(cluster, project, tmp_path):  # noqa: F811
    env = {**client_env(cluster), "DVC_NO_ANALYTICS": "1"}
    env["PATH"] = f"{subprocess.os.path.dirname(subprocess.sys.executable)}:{env['PATH']}"
    write_digits_csv(project / "small" / "train.csv", 300, seed=1)
    write_digits_csv(project / "small" / "test.csv", 100, seed=2)
    untracked = TINY_EXPERIMENT + "tracking:\n  enabled: false\n"
    (project / "conf" / "experiment" / "tiny.yaml").write_text(untracked)
    subprocess.run(
        ["python", "-m", "pipeline.tools.params", "experiment=tiny"], cwd=project, env=env,
        check=True, capture_output=True,
    )  # fmt: skip
    remote = f"s3://dvc/test-{secrets.token_hex(4)}"
    dvc(project, env, "remote", "add", "-d", "cluster", remote)
    dvc(project, env, "remote", "modify", "cluster", "endpointurl", cluster.s3_endpoint)
    dvc(project, env, "repro", "evaluate")
    commit(project)
    assert "files pushed" in dvc(project, env, "push", "evaluate", "--with-deps")

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    dvc(clone, env, "pull", "evaluate", "--with-deps")
    for name in ("models/model.npz", "reports/metrics.json", "data/prepared/info.json"):
        assert (clone / name).read_bytes() == (project / name).read_bytes(), name
    assert "Data and pipelines are up to date" in dvc(clone, env, "repro", "evaluate")
    metrics = json.loads(dvc(clone, env, "metrics", "show", "--json"))
    assert metrics[""]["data"]["reports/metrics.json"]["data"]["test"]["accuracy"] >= 0

    experiment = f"lr-{secrets.token_hex(3)}"
    dvc(project, env, "exp", "run", "-n", experiment, "-S", "optimizer.lr=0.05")
    results = ("params.yaml", "reports/metrics.json", "models/model.npz")
    expected = {name: (project / name).read_bytes() for name in results}
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    subprocess.run(
        ["git", "push", "-q", str(origin), "HEAD:refs/heads/main"], cwd=project, check=True
    )
    dvc(project, env, "exp", "push", str(origin), experiment)
    # only finished experiments travel: one queued, not run, is no experiment to push yet
    dvc(project, env, "exp", "run", "--queue", "-n", f"queued-{experiment}", "-S", "train.seed=7")
    dvc(project, env, "exp", "push", str(origin), "--rev", "HEAD")  # every experiment of HEAD
    refs = subprocess.run(
        ["git", "ls-remote", str(origin), "refs/exps/*"], capture_output=True, text=True,
        check=True,
    ).stdout.split()[1::2]  # fmt: skip
    assert [ref.rsplit("/", 1)[-1] for ref in refs] == [experiment], refs

    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", "-b", "main", str(origin), str(fresh)], check=True)
    dvc(fresh, env, "exp", "pull", "origin", experiment)
    shown = json.loads(dvc(fresh, env, "exp", "show", "--json"))
    names = [e["name"] for row in shown for e in row.get("experiments") or []]
    assert names == [experiment], names
    dvc(fresh, env, "exp", "apply", experiment)
    for name in results:
        assert (fresh / name).read_bytes() == expected[name], name
