"""Gradient descent on a loss surface, drawn in 3-D and logged as an artifact.

The surface is a skewed bowl with a ripple, f(x, y) = 0.5 x^2 + 2 y^2 + 0.3 sin(3x) sin(3y);
descent starts at (2.5, 1.5) and takes `steps` steps of size `learning_rate` along the
analytic gradient. Logs the loss at every step and the final point.
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402


def loss(x, y):
    return 0.5 * x**2 + 2 * y**2 + 0.3 * np.sin(3 * x) * np.sin(3 * y)


def gradient(x: float, y: float) -> np.ndarray:
    return np.array(
        [
            x + 0.9 * np.cos(3 * x) * np.sin(3 * y),
            4 * y + 0.9 * np.sin(3 * x) * np.cos(3 * y),
        ]
    )


def descend(start: np.ndarray, learning_rate: float, steps: int) -> np.ndarray:
    path = [start]
    for _ in range(steps):
        path.append(path[-1] - learning_rate * gradient(*path[-1]))
    return np.array(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--steps", type=float, default=60)
    args = parser.parse_args()
    path = descend(np.array([2.5, 1.5]), args.learning_rate, int(args.steps))
    with mlflow.start_run():
        for step, (x, y) in enumerate(path):
            mlflow.log_metric("loss", float(loss(x, y)), step=step)
        mlflow.log_metrics({"final_x": float(path[-1, 0]), "final_y": float(path[-1, 1])})
        mlflow.log_figure(surface_plot(path), "gradient_descent_3d.png")


def surface_plot(path: np.ndarray):
    grid = np.linspace(-3, 3, 120)
    x, y = np.meshgrid(grid, grid)
    figure = plt.figure(figsize=(8, 6))
    axis = figure.add_subplot(projection="3d")
    axis.plot_surface(x, y, loss(x, y), cmap="viridis", alpha=0.6, linewidth=0)
    axis.plot(path[:, 0], path[:, 1], loss(path[:, 0], path[:, 1]), "r.-", markersize=4)
    axis.set_xlabel("x")
    axis.set_ylabel("y")
    axis.set_zlabel("loss")
    axis.set_title("Gradient descent on a rippled bowl")
    figure.tight_layout()
    return figure


if __name__ == "__main__":
    main()
