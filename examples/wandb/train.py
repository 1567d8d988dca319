"""A W&B training script: it imports wandb, reads wandb.config and calls wandb.log.

Under `sweeps run examples/wandb/sweep.yaml` it runs unchanged, offline: sweepbook gives it
a small `wandb` module that logs to the trial's run (and prunes it through hyperband).
"""

import math

import wandb


def main() -> None:
    run = wandb.init(project="wandb-demo", config={"epochs": 5, "seed": 0})
    config = wandb.config
    lr, momentum = config.learning_rate, config.momentum
    optimizer = config.optimizer  # nested parameters arrive as a dict
    velocity, x = 0.0, 5.0
    for epoch in range(config.epochs):
        for _ in range(20):  # heavy-ball descent on a bowl: f(x) = x^2
            grad = 2 * x + optimizer["noise"]
            velocity = momentum * velocity - lr * grad
            if optimizer["name"] == "nesterov":
                x += momentum * velocity - lr * grad
            else:
                x += velocity
        val_loss = x * x + 0.01
        wandb.log({"epoch": epoch, "val_loss": val_loss, "val_log_loss": math.log(val_loss)})
    run.summary["final_x"] = x
    wandb.finish()


if __name__ == "__main__":
    main()
