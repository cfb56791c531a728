"""Serve the drawing page for a trained model, on 127.0.0.1 only.

python -m pipeline.demo                                   # models/model.npz (what train wrote)
python -m pipeline.demo models:/neuralscratch@champion    # a registered model
python -m pipeline.demo runs:/<run id>/model --port 8001  # a run's model; any .npz or folder

Open the address it prints, draw a digit with the mouse (or a finger), and see what the network
makes of it as you draw. Ctrl-C stops it.
"""

import argparse

from pipeline.cli import run_stage
from pipeline.demo.server import Demo, serve
from pipeline.network.models import load_model
from pipeline.tracking.model_uri import is_model_uri, weights_from_uri

DEFAULT_MODEL = "models/model.npz"


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", nargs="?", default=DEFAULT_MODEL, help="an .npz, or a model URI")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free one (default 8080)")
    args = parser.parse_args()
    network = weights_from_uri(args.model) if is_model_uri(args.model) else load_model(args.model)
    server = serve(Demo(network, args.model), args.port)
    host, port = server.server_address[:2]
    print(f"drawing page for {args.model}: http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:  # Ctrl-C is how it ends: no error, nothing left behind
            print("drawing page stopped", flush=True)


if __name__ == "__main__":
    run_stage(main)
