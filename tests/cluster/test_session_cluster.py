"""One local cluster for the whole session, shared by the xdist workers, stopped by PID
(tests/cluster/conftest.py): whichever worker runs this, its cluster is the one the session
recorded above the workers' folders, started once, and its PID files name its own daemons.
That they run and listen on 127.0.0.1 only is test_loopback.py's."""

import json
import os
from pathlib import Path

import psutil

from pipeline.cluster import daemon, services


def test_every_worker_has_the_one_cluster_the_session_recorded(
    cluster, tmp_path_factory, worker_id
):
    base = tmp_path_factory.getbasetemp()
    session = base.parent if worker_id != "master" else base  # above popen-gw0, popen-gw1, ...
    for record in ("cluster.path", "cluster-startup.json"):
        # in the session's folder, none in a worker's own
        found = [*session.glob(record), *session.glob(f"*/{record}")]
        assert found == [session / record], found
    assert (session / "cluster.path").read_text() == cluster.folder
    assert json.loads((session / "cluster-startup.json").read_text()) == cluster.startup_seconds
    assert services.load(Path(cluster.folder)) == cluster  # what a later worker loads
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    assert 1 <= int((session / "cluster.users").read_text()) <= workers

    # the PIDs the last worker stops are this cluster's daemons: each works in its folder
    folder = Path(cluster.folder)
    pids = {
        f"{service}/{name}" if len(names) > 1 else service: daemon.pid_of(folder / service, name)
        for service, names in services.SERVICES.items()
        for name in names
        if service != "slurm" or cluster.slurm_conf
    }
    assert None not in pids.values(), pids
    outside = {
        name: cwd
        for name, pid in pids.items()
        if not Path(cwd := psutil.Process(pid).cwd()).is_relative_to(folder)
    }
    assert outside == {}
