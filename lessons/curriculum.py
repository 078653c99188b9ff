"""The course outline: every lesson's id, module and title, and what it will cover."""

from __future__ import annotations

from dataclasses import dataclass

MODULES = {
    1: "Module 1 · The elementary training loop",
    2: "Module 2 · The training loop for neural networks",
    3: "Module 3 · Advanced training loops and modern tricks",
}


@dataclass(frozen=True)
class LessonOutline:
    id: str  # "1.1"
    title: str
    covers: str  # one sentence for the "coming soon" page

    @property
    def module(self) -> int:
        return int(self.id.split(".")[0])

    @property
    def url_path(self) -> str:
        """The page's URL path, e.g. lesson-1-1 (teachers link to these)."""
        return "lesson-" + self.id.replace(".", "-")


CURRICULUM: tuple[LessonOutline, ...] = (
    LessonOutline(
        "1.1",
        "What is a training loop?",
        "Loss, optimisation and learning; the four steps; epochs, batches and iterations.",
    ),
    LessonOutline(
        "1.2",
        "Linear regression",
        "y = Xw + b, mean squared error, gradients by hand, manual update vs autograd.",
    ),
    LessonOutline(
        "1.3",
        "Batch vs stochastic vs mini-batch",
        "How batch size trades gradient noise against speed and stability.",
    ),
    LessonOutline(
        "1.4",
        "Visualizing the loss landscape",
        "The MSE surface over (w, b) and the path an optimizer takes across it.",
    ),
    LessonOutline(
        "1.5",
        "Numerical vs analytical gradients",
        "Finite differences vs autograd; catching a wrong hand-derived gradient.",
    ),
    LessonOutline("1.6", "Module 1 recap", "A checklist and a quiz over the whole module."),
    LessonOutline(
        "2.1",
        "From linear to nonlinear",
        "MLPs and activations; why a linear model cannot separate moons or spirals.",
    ),
    LessonOutline(
        "2.2",
        "Forward and backward passes",
        "The chain rule, what loss.backward() fills in, and how detach stops it.",
    ),
    LessonOutline(
        "2.3",
        "A simple neural net from scratch",
        "Forward, loss, backward and update by hand, then with nn.Module; registering layers.",
    ),
    LessonOutline(
        "2.4",
        "The role of activations",
        "Saturation, dead ReLUs and how activations change learning speed.",
    ),
    LessonOutline(
        "2.5", "Mini-batching and data pipelines", "Dataset, DataLoader, shuffle and batch size."
    ),
    LessonOutline(
        "2.6",
        "Regularization and overfitting",
        "Weight decay, dropout and the gap between train and validation.",
    ),
    LessonOutline(
        "2.7", "Module 2 recap", "The neural net compared with linear regression; a quiz."
    ),
    LessonOutline("3.1", "Optimizers beyond SGD", "Momentum, RMSProp, Adam and AdamW."),
    LessonOutline(
        "3.2", "Learning-rate scheduling", "Step, cosine and warm-up schedules; an LR range test."
    ),
    LessonOutline(
        "3.3",
        "Weight initialization",
        "Zero init and symmetry, too large or too small, Xavier and Kaiming.",
    ),
    LessonOutline(
        "3.4",
        "Deeper networks",
        "Vanishing and exploding gradients, normalization, skips and clipping.",
    ),
    LessonOutline(
        "3.5",
        "Large-scale training",
        "Devices, mixed precision, gradient accumulation and data parallelism.",
    ),
    LessonOutline(
        "3.6",
        "Monitoring and debugging the training loop",
        "Curves, predictions, gradient checks, the troubleshooting order, overfit-one-batch.",
    ),
    LessonOutline(
        "3.7",
        "Modern regularization and generalization",
        "Early stopping, batch and layer norm, data augmentation.",
    ),
    LessonOutline(
        "3.8",
        "The training loop in practice",
        "How large models are trained: checkpoints, resume, mixed precision, sharding.",
    ),
    LessonOutline(
        "3.9", "What's next", "Fine-tuning, transfer learning and self-supervised learning."
    ),
)


def outline(lesson_id: str) -> LessonOutline:
    """The outline entry for an id such as "3.6"; raises KeyError for an unknown id."""
    for lesson in CURRICULUM:
        if lesson.id == lesson_id:
            return lesson
    raise KeyError(f"no lesson {lesson_id!r} in the curriculum")
