"""Bugs in what the model is fed: order, amount, alignment, scale, and which split is which."""

from __future__ import annotations

from dataclasses import replace

import torch

from engine.step import Split, TrainingParts
from engine.variants.variant import Variant


def misalign_labels(parts: TrainingParts) -> TrainingParts:
    """Shuffle the training labels on their own, as a buggy data pipeline would."""
    train = parts.data.train
    generator = torch.Generator().manual_seed(parts.config.seed + 7)
    order = torch.randperm(len(train), generator=generator).to(train.targets.device)
    broken = Split(train.inputs, train.targets[order])
    return replace(parts, data=replace(parts.data, train=broken))


def validate_on_training_data(parts: TrainingParts) -> TrainingParts:
    """Point the validation split at the training examples."""
    return replace(parts, data=replace(parts.data, val=parts.data.train))


VARIANTS = (
    Variant(
        id="no_shuffle",
        title="No shuffling on class-sorted data",
        category="data",
        lessons=("1.3", "2.5", "3.6"),
        symptom="Saw-tooth per-step loss (one class at a time); worse first epochs.",
        healthy_code="loader = DataLoader(train_set, batch_size=32, shuffle=True)",
        broken_code="loader = DataLoader(train_set, batch_size=32, shuffle=False)  "
        "# data stored sorted by class",
        why="The training file is stored sorted by class, so without shuffling every epoch "
        "feeds all the 0s, then all the 1s, and so on. Each stretch of batches pulls the "
        "model towards one class and undoes the last, so the loss climbs whenever the "
        "class changes and the model ends each epoch biased to the last class it saw.",
        fix="Pass shuffle=True for the training loader (keep validation unshuffled); a "
        "fresh order every epoch makes each batch a fair sample of all classes.",
        expected_label="unstable",
        configure=lambda base: {"shuffle": False, "class_sorted": True},
    ),
    Variant(
        id="tiny_subset",
        title="Training on a tiny subset",
        category="data",
        lessons=("2.6", "3.6", "3.7", "3.9"),
        symptom="Train loss near 0 and train accuracy 100%, validation stalls: a wide gap.",
        healthy_code="train_set = full_train_set  # 1,259 examples",
        broken_code="train_set = Subset(full_train_set, range(50))  # 50 examples",
        why="With 50 examples a network of 17,000 weights can memorise every one, noise "
        "included, without learning what makes a 3 a 3; new images look unfamiliar.",
        fix="Train on more data (or augment it), and regularise: weight decay, dropout, "
        "early stopping on the validation loss.",
        expected_label="overfitting",
        configure=lambda base: {"subset": 50, "epochs": max(base.epochs, 60)},
    ),
    Variant(
        id="labels_misaligned",
        title="Labels shuffled separately from inputs",
        category="data",
        lessons=("3.6",),
        symptom="Loss stuck at ln K, accuracy at chance.",
        healthy_code="train_set = BatchDataset(x_train, y_train)",
        broken_code="shuffled = torch.randperm(len(y_train), generator=torch.Generator()"
        ".manual_seed(SEED + 7))\n"
        "y_train = y_train[shuffled.to(y_train.device)]  # x_train not reordered\n"
        "train_set = BatchDataset(x_train, y_train)",
        why="Each input now carries a random other example's label, so there is no pattern "
        "linking images to labels; the best the model can do is guess the class "
        "frequencies, which is a loss of ln K.",
        fix="Apply one permutation to inputs and labels together (or shuffle with the "
        "DataLoader); spot-check a few (image, label) pairs by eye.",
        expected_label="not_learning",
        break_loop=misalign_labels,
    ),
    Variant(
        id="unnormalized_inputs",
        title="Inputs not standardised",
        category="data",
        lessons=("2.5",),
        symptom="Raw pixels (0-255 on MNIST) make a shaky start; digits' 0-16 hide it.",
        healthy_code="x = (x - train_mean) / train_std",
        broken_code="x = x  # raw pixel intensities (0-16 here, 0-255 for MNIST)",
        why="Large raw inputs make the first layer's outputs and gradients large, so the "
        "first steps are too big for some weights and too small for others.",
        fix="Standardise inputs with statistics of the training split (mean 0.1307, std "
        "0.3081 for MNIST scaled to 0-1).",
        expected_label="healthy",
        configure=lambda base: {"normalize": False},
    ),
    Variant(
        id="leaky_validation",
        title="Validating on the training data",
        category="data",
        lessons=("2.6", "3.6"),
        symptom="Validation identical to training: too good to be true.",
        healthy_code="on_val = evaluate(model, val_split, loss_fn)",
        broken_code="on_val = evaluate(model, train_split, loss_fn)",
        why="The validation numbers measure memory, not generalisation: they can never show "
        "overfitting, so every run looks healthy.",
        fix="Keep a held-out validation split that never touches training, split once with "
        "a fixed seed.",
        expected_label="healthy",
        break_loop=validate_on_training_data,
    ),
)
