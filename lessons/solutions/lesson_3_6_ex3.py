"""Lesson 3.6, exercise 3: log a run so the Curve Doctor (and future you) can read it.

Train a small MLP on the 8x8 digits with your own loop. Into a run folder, save: log.csv
with one row per epoch and the columns epoch,train_loss,val_loss,train_acc,val_acc (plain
numbers from .item(), never tensors); config.json with every setting, the seed and a
fingerprint of the data split; best.pt, the checkpoint with the lowest val loss so far.
Check that the app's own log reader parses log.csv, that its diagnosis is "healthy", and
that best.pt reloads (weights_only=True) into a fresh model that scores exactly the best val
loss in the log on the split rebuilt from the saved seed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from engine.diagnosis import diagnose
from engine.training_log import read_training_log

COLUMNS = ["epoch", "train_loss", "val_loss", "train_acc", "val_acc"]


@dataclass(frozen=True)
class Config:
    seed: int = 42
    lr: float = 1e-3
    batch_size: int = 32
    epochs: int = 10
    hidden: int = 64


Split = tuple[torch.Tensor, torch.Tensor]


def load_splits(seed: int) -> tuple[Split, Split, str]:
    """Standardised train and val splits (70 % / 15 %) and a fingerprint of the split."""
    x_np, y_np = load_digits(return_X_y=True)
    x, y = torch.tensor(x_np, dtype=torch.float32), torch.tensor(y_np)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    train_idx, val_idx = order[: int(0.7 * len(y))], order[int(0.7 * len(y)) : int(0.85 * len(y))]
    mean, std = x[train_idx].mean(), x[train_idx].std()  # train statistics only
    x = (x - mean) / std
    version = hashlib.sha256(order.numpy().tobytes()).hexdigest()[:12]
    return (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx]), version


def build_model(config: Config) -> nn.Module:
    """64 pixels -> hidden ReLU layer -> 10 class scores (raw logits)."""
    return nn.Sequential(nn.Linear(64, config.hidden), nn.ReLU(), nn.Linear(config.hidden, 10))


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, loss_fn: nn.Module) -> tuple[float, float]:
    """(loss, accuracy) on a whole split, dropout off and no graph built."""
    model.eval()
    inputs, labels = split
    logits = model(inputs)
    model.train()
    return loss_fn(logits, labels).item(), (logits.argmax(1) == labels).float().mean().item()


def train_and_log(config: Config, run_dir: Path) -> list[dict[str, float]]:
    """Train, writing log.csv, config.json and best.pt into run_dir; returns the rows."""
    torch.manual_seed(config.seed)
    train, val, split_version = load_splits(config.seed)
    (run_dir / "config.json").write_text(
        json.dumps({**asdict(config), "split_version": split_version}, indent=2)
    )

    model = build_model(config)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loader = DataLoader(
        TensorDataset(*train),
        batch_size=config.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(config.seed),
    )

    rows: list[dict[str, float]] = []
    best_val = float("inf")
    with open(run_dir / "log.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        for epoch in range(1, config.epochs + 1):
            for inputs, labels in loader:
                optimizer.zero_grad()
                loss = loss_fn(model(inputs), labels)
                loss.backward()
                optimizer.step()
            train_loss, train_acc = evaluate(model, train, loss_fn)
            val_loss, val_acc = evaluate(model, val, loss_fn)
            row = {
                "epoch": epoch,
                "train_loss": round(train_loss, 5),
                "val_loss": round(val_loss, 5),
                "train_acc": round(train_acc, 4),
                "val_acc": round(val_acc, 4),
            }
            writer.writerow(row)
            file.flush()  # a crash later still leaves every finished epoch on disk
            rows.append(row)
            if val_loss < best_val:
                best_val = val_loss
                torch.save(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "epoch": epoch,
                        "val_loss": val_loss,
                    },
                    run_dir / "best.pt",
                )
    return rows


def main() -> None:
    config = Config()
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder)
        rows = train_and_log(config, run_dir)
        print((run_dir / "log.csv").read_text().splitlines()[0])
        for row in rows[:: max(1, len(rows) // 4)]:
            print(
                f"  epoch {row['epoch']:>2}: train_loss {row['train_loss']:.4f}, "
                f"val_loss {row['val_loss']:.4f}, val_acc {row['val_acc']:.3f}"
            )

        log = read_training_log(run_dir / "log.csv", n_classes=10)
        diagnosis = diagnose(log)
        saved = json.loads((run_dir / "config.json").read_text())
        checkpoint = torch.load(run_dir / "best.pt", weights_only=True)
        print(
            f"files: {sorted(p.name for p in run_dir.iterdir())}; "
            f"split {saved['split_version']}; best epoch {checkpoint['epoch']}"
        )
        print(f"Curve Doctor: {diagnosis.label}. {diagnosis.evidence[0]}")

        assert len(log.train_loss) == config.epochs and log.val_acc is not None
        assert diagnosis.label == "healthy"
        assert saved["seed"] == config.seed
        best = min(rows, key=lambda r: r["val_loss"])
        assert checkpoint["epoch"] == best["epoch"]
        restored = build_model(config)
        restored.load_state_dict(checkpoint["model"])
        _, val, split_version = load_splits(saved["seed"])  # the seed rebuilds the split
        assert split_version == saved["split_version"]
        restored_loss, _ = evaluate(restored, val, nn.CrossEntropyLoss())
        assert abs(restored_loss - best["val_loss"]) < 1e-4
    print(f"Curve Doctor read {len(log.train_loss)} epochs from log.csv: {diagnosis.label}")


if __name__ == "__main__":
    main()
