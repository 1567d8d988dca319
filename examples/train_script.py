"""A training script run as a command line (`configs/command_example.yaml`).

It takes its hyperparameters as flags and reports in two ways, both understood by sweeps:
the `tracking` fluent API (inside a sweep it prints event lines instead of writing the
store), and a hand-printed event line, as a program in any language would.
"""

from __future__ import annotations

import argparse
import json
import math

import tracking


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--layers", type=int, required=True)
    args = parser.parse_args()
    with tracking.start_run():
        tracking.log_param("optimizer", "sgd")
        loss = 2.0
        for epoch in range(8):
            loss = abs(math.log10(args.lr) + 2.5) * 0.3 + 1.0 / (args.layers * (epoch + 1))
            tracking.log_metric("val_loss", loss, step=epoch)
        # the same protocol by hand, as any language can print it:
        print("@tracking " + json.dumps({"metrics": {"val_accuracy": 1.0 / (1.0 + loss)},
                                         "step": 7}), flush=True)
        tracking.set_note(f"{args.layers} layers at lr {args.lr:g}")


if __name__ == "__main__":
    main()
