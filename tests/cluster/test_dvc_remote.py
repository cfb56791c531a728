"""The DVC remote on the cluster's S3 server: push after repro; a fresh clone pulls data, model
and reports, and `dvc repro` there has nothing to do. Experiments go the same way: `dvc exp
push` to a Git remote (their refs) and the DVC remote (their outputs); a fresh clone of that Git
remote `dvc exp pull`s them, lists them, and `dvc exp apply` restores their params, metrics
and model. A queued experiment does not travel until it has run.

The clones are another machine set up as the README tells for a real bucket: the remote (URL
and endpoint) comes from the committed .dvc/config, the keys from the AWS chain (the
environment for `dvc pull`, a credentials file for `dvc exp pull`), never from a .dvc/config*.
Moto takes any keys, so the control is a pull with none: botocore refuses it."""

import json
import re
import secrets
import subprocess
import sys
from pathlib import Path

from pipeline.cluster import s3
from pipeline.cluster.secrets import private_file
from tests.cluster.conftest import client_env
from tests.conftest import write_digits_csv
from tests.test_dvc_pipeline import TINY_EXPERIMENT, commit, project  # noqa: F401 (a fixture)

KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def run_dvc(folder, env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["dvc", *args], cwd=folder, env=env, capture_output=True, text=True, check=False
    )


def dvc(folder, env, *args: str) -> str:
    result = run_dvc(folder, env, *args)
    assert result.returncode == 0, f"dvc {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def aws_env(cluster, aws: Path, **credentials: str) -> dict[str, str]:
    """A dvc client's environment: the cluster's minus every AWS and boto setting (its S3 keys
    and this machine's), with ``credentials`` added. The AWS chain's files are in ``aws``, never
    ~/.aws or ~/.boto, and the metadata service (not on loopback) is never asked."""
    env = {k: v for k, v in client_env(cluster).items() if not k.startswith(("AWS_", "BOTO_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return env | {
        "DVC_NO_ANALYTICS": "1",
        "AWS_DEFAULT_REGION": s3.CLIENT_ENV["AWS_DEFAULT_REGION"],
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
        "BOTO_CONFIG": str(aws / "boto.cfg"),
        **credentials,
    }


def assert_no_credentials(clone: Path, keys: dict[str, str]) -> None:
    for name in ("config", "config.local"):
        path = clone / ".dvc" / name
        text = path.read_text() if path.is_file() else ""
        assert not re.search(r"access_key|secret|token|credential", text), f"{path}:\n{text}"
        assert not any(value in text for value in keys.values()), f"{path}:\n{text}"


def test_push_then_pull_in_a_fresh_clone(cluster, project, tmp_path):  # noqa: F811
    env = aws_env(cluster, tmp_path / "aws", **{key: s3.CLIENT_ENV[key] for key in KEYS})
    write_digits_csv(project / "small" / "train.csv", 300, seed=1)
    write_digits_csv(project / "small" / "test.csv", 100, seed=2)
    untracked = TINY_EXPERIMENT + "tracking:\n  enabled: false\n"
    (project / "conf" / "experiment" / "tiny.yaml").write_text(untracked)
    subprocess.run(
        ["python", "-m", "pipeline.tools.params", "experiment=tiny"], cwd=project, env=env,
        check=True, capture_output=True,
    )  # fmt: skip
    remote = f"s3://dvc/test-{secrets.token_hex(4)}"
    # as the README tells for a real bucket: the remote in .dvc/config, committed; no keys
    dvc(project, env, "remote", "add", "-d", "storage", remote)
    dvc(project, env, "remote", "modify", "storage", "endpointurl", cluster.s3_endpoint)
    dvc(project, env, "repro", "evaluate")
    commit(project)
    assert "files pushed" in dvc(project, env, "push", "evaluate", "--with-deps")

    # another machine: the remote from the clone's committed config, its user's own keys from
    # the AWS chain: without any, botocore refuses before asking (moto takes any keys at all)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    aws = tmp_path / "another-machine"
    aws.mkdir()
    keys = {
        "AWS_ACCESS_KEY_ID": f"another-{secrets.token_hex(6)}",
        "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20),
    }
    refused = run_dvc(clone, aws_env(cluster, aws), "pull", "evaluate", "--with-deps")
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert "Unable to locate credentials" in refused.stderr, refused.stderr
    assert not (clone / "models" / "model.npz").exists()
    another = aws_env(cluster, aws, **keys)  # the keys from the environment
    dvc(clone, another, "pull", "evaluate", "--with-deps")
    committed = (clone / ".dvc" / "config").read_text()
    assert f"url = {remote}" in committed and f"endpointurl = {cluster.s3_endpoint}" in committed
    for name in ("models/model.npz", "reports/metrics.json", "data/prepared/info.json"):
        assert (clone / name).read_bytes() == (project / name).read_bytes(), name
    assert "Data and pipelines are up to date" in dvc(clone, another, "repro", "evaluate")
    metrics = json.loads(dvc(clone, another, "metrics", "show", "--json"))
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
    private_file(  # the keys from a ~/.aws/credentials this time
        aws / "credentials",
        "[default]\n" + "".join(f"{key.lower()} = {value}\n" for key, value in keys.items()),
    )
    another = aws_env(cluster, aws)
    dvc(fresh, another, "exp", "pull", "origin", experiment)
    shown = json.loads(dvc(fresh, another, "exp", "show", "--json"))
    names = [e["name"] for row in shown for e in row.get("experiments") or []]
    assert names == [experiment], names
    dvc(fresh, another, "exp", "apply", experiment)
    for name in results:
        assert (fresh / name).read_bytes() == expected[name], name
    for machine in (clone, fresh):
        assert_no_credentials(machine, keys)
