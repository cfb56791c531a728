"""A local cluster on loopback, started and stopped with one command (``make cluster``,
``python -m pipeline.cluster start|stop|status``) and used by the tests: SLURM with accounting,
PostgreSQL, an S3 server, and an MLflow tracking server (basic auth, PostgreSQL store, artifacts
proxied to S3). Every service listens on 127.0.0.1 on a port the kernel picked, keeps its state,
log and PID file in one folder, and is stopped by that PID. Secrets are generated into files
with mode 600; ``cluster.json`` holds only addresses and file names."""

from pipeline.errors import ENVIRONMENT, refuse_other_interpreters

refuse_other_interpreters(ENVIRONMENT, "command", "run it with `make cluster`")
