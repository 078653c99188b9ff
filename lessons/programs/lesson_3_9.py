"""Lesson 3.9: reuse what a network learned, with and without labels.

Part 1, transfer learning. An MLP (64 -> 128 -> 64 trunk, then a head) is pretrained on
every example of the digits 0-4. Its head is then replaced by a fresh one for the digits
5-9, and that new task gets only K labelled examples per class. Three ways to learn it,
all with the same steps on the same few examples:
  scratch    the same architecture, freshly initialised, every weight trained
  frozen     the pretrained trunk frozen (feature extraction), only the new head trained
  fine-tune  the whole network trained, the trunk with a 10x smaller learning rate
Each is scored on every 5-9 digit it did not train on, for five different draws of the
few examples.

Part 2, self-supervised learning. A trunk learns, without a single label, to fill in one
hidden quarter of each digit from the other three. A linear probe (that trunk frozen, one
linear layer trained on 10 labelled digits per class) is then compared with the same
probe on the same trunk before that pretext training (its random initial weights).

Run it with: python lesson_3_9.py   (needs torch and scikit-learn)
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn

SEED = 0
PRETRAIN_EPOCHS, BATCH_SIZE, LR = 10, 64, 1e-3
FEW_SHOT_STEPS = 100  # full-batch steps on the few examples, the same for all three ways
HEAD_LR, TRUNK_LR = 1e-2, 1e-3  # fine-tuning: the trunk moves 10x more slowly
SHOTS = 5  # labelled examples per class of the new task
DRAWS = 3  # different draws of those few examples
N_TEST_SSL = 500  # part 2: digits kept apart for scoring the probes
SSL_EPOCHS, SSL_BATCH = 20, 128
PROBE_SHOTS, PROBE_STEPS = 10, 200  # the probes train at HEAD_LR


def pick_device() -> torch.device:
    """The fastest device present: cuda, then mps (Apple GPUs), then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_trunk() -> nn.Sequential:
    """The shared body: 64 pixels -> 128 -> 64 features, ReLU after each layer."""
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())


def count(params: list[nn.Parameter]) -> int:
    return sum(p.numel() for p in params)


@torch.no_grad()
def accuracy(trunk: nn.Module, head: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return (head(trunk(x)).argmax(dim=1) == y).float().mean().item()


def train_steps(
    trunk: nn.Module,
    head: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int,
) -> None:
    """Full-batch training: forward, loss, backward, step, `steps` times."""
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(head(trunk(x)), y)
        loss.backward()
        optimizer.step()


def pretrain(x: torch.Tensor, y: torch.Tensor, device: torch.device) -> nn.Sequential:
    """Trunk and a 5-way head trained on digits 0-4 in mini-batches; returns the trunk."""
    torch.manual_seed(SEED)
    trunk, head = make_trunk().to(device), nn.Linear(64, 5).to(device)
    optimizer = torch.optim.Adam([*trunk.parameters(), *head.parameters()], lr=LR)
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(PRETRAIN_EPOCHS):
        for batch in torch.randperm(len(y), generator=generator).to(device).split(BATCH_SIZE):
            optimizer.zero_grad()
            nn.functional.cross_entropy(head(trunk(x[batch])), y[batch]).backward()
            optimizer.step()
    print(f"pretrained on {len(y)} digits 0-4: train accuracy {accuracy(trunk, head, x, y):.3f}")
    return trunk


def learn_new_task(
    way: str,
    pretrained: nn.Sequential,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    device: torch.device,
) -> float:
    """Learn digits 5-9 from the few examples one of three ways; returns test accuracy."""
    few_x, few_y, test_x, test_y = data
    torch.manual_seed(SEED + 1)  # every way gets the same fresh head
    head = nn.Linear(64, 5).to(device)
    trunk = make_trunk().to(device)
    if way == "scratch":
        optimizer = torch.optim.Adam([*trunk.parameters(), *head.parameters()], lr=HEAD_LR)
    else:
        trunk.load_state_dict(pretrained.state_dict())  # a copy: the original stays as it is
    if way == "frozen":
        trunk.requires_grad_(False)  # backward() computes no gradient for the trunk
        optimizer = torch.optim.Adam(head.parameters(), lr=HEAD_LR)  # and step() skips it
    if way == "fine-tune":
        optimizer = torch.optim.Adam(
            [
                {"params": trunk.parameters(), "lr": TRUNK_LR},
                {"params": head.parameters(), "lr": HEAD_LR},
            ]
        )
    train_steps(trunk, head, optimizer, few_x, few_y, FEW_SHOT_STEPS)
    return accuracy(trunk, head, test_x, test_y)


def transfer(x: torch.Tensor, y: torch.Tensor, device: torch.device) -> None:
    """Part 1: pretrain on 0-4, then learn 5-9 from SHOTS examples per class, three ways."""
    old = y < 5
    trunk = pretrain(x[old], y[old], device)
    head_params = count(list(nn.Linear(64, 5).parameters()))  # the shape of every new head
    print(f"trunk: {count(list(trunk.parameters()))} weights; new head: {head_params}")

    new_x, new_y = x[~old], y[~old] - 5  # digits 5-9 become classes 0-4 of the new head
    ways = ("scratch", "frozen", "fine-tune")
    print(f"\ndigits 5-9, {SHOTS} labelled per class, test accuracy on the rest:")
    print("draw  test digits" + "".join(f"{way:>11}" for way in ways))
    results: dict[str, list[float]] = {way: [] for way in ways}
    for draw in range(DRAWS):
        generator = torch.Generator().manual_seed(100 + draw)
        order = torch.randperm(len(new_y), generator=generator).to(device)
        few = torch.cat([order[new_y[order] == c][:SHOTS] for c in range(5)])
        is_test = torch.ones(len(new_y), dtype=torch.bool, device=device)
        is_test[few] = False
        data = (new_x[few], new_y[few], new_x[is_test], new_y[is_test])
        for way in ways:
            results[way].append(learn_new_task(way, trunk, data, device))
        row = "".join(f"{results[way][-1]:11.3f}" for way in ways)
        print(f"{draw:4d} {int(is_test.sum()):12d}{row}")
    means = {way: sum(accs) / DRAWS for way, accs in results.items()}
    print("mean" + " " * 13 + "".join(f"{means[way]:11.3f}" for way in ways))


def hide_quadrant(x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero one random 4x4 quarter of each 8x8 digit; returns the input and the hidden mask."""
    quadrant = torch.randint(0, 4, (len(x),), generator=generator).to(x.device)
    rows = torch.arange(8, device=x.device).repeat_interleave(8)  # pixel j sits at row j // 8
    cols = torch.arange(8, device=x.device).repeat(8)  # and column j % 8
    in_quadrant = (rows // 4) * 2 + cols // 4  # which quarter each of the 64 pixels is in
    hidden = in_quadrant.unsqueeze(0) == quadrant.unsqueeze(1)  # [N, 64]: 16 True per row
    return x.masked_fill(hidden, 0.0), hidden


def pretext(trunk: nn.Sequential, x: torch.Tensor, device: torch.device) -> None:
    """Self-supervised: predict each digit's hidden quarter from the rest. No labels."""
    decoder = nn.Linear(64, 64).to(device)  # 64 trunk features -> 64 pixels
    optimizer = torch.optim.Adam([*trunk.parameters(), *decoder.parameters()], lr=LR)
    generator = torch.Generator().manual_seed(SEED)
    for epoch in range(SSL_EPOCHS):
        total = 0.0
        for batch in torch.randperm(len(x), generator=generator).to(device).split(SSL_BATCH):
            seen, hidden = hide_quadrant(x[batch], generator)
            optimizer.zero_grad()
            guess = decoder(trunk(seen))
            loss = (guess - x[batch])[hidden].pow(2).mean()  # scored on hidden pixels only
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        if epoch in (0, SSL_EPOCHS - 1):
            print(f"pretext epoch {epoch + 1:2d}: mean hidden-pixel MSE {total / len(x):.4f}")


def probe(
    trunk: nn.Module,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    device: torch.device,
) -> float:
    """A linear probe: trunk frozen, one Linear(64, 10) trained on the few labelled digits."""
    few_x, few_y, test_x, test_y = data
    trunk.requires_grad_(False)
    torch.manual_seed(SEED + 2)
    head = nn.Linear(64, 10).to(device)
    optimizer = torch.optim.Adam(head.parameters(), lr=HEAD_LR)
    train_steps(trunk, head, optimizer, few_x, few_y, PROBE_STEPS)
    return accuracy(trunk, head, test_x, test_y)


def self_supervised(x: torch.Tensor, y: torch.Tensor, device: torch.device) -> None:
    """Part 2: pretext training on unlabelled digits, then linear probes on a few labels."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SEED)).to(device)
    test, pool = order[:N_TEST_SSL], order[N_TEST_SSL:]
    few = torch.cat([pool[y[pool] == c][:PROBE_SHOTS] for c in range(10)])
    data = (x[few], y[few], x[test], y[test])
    print(f"\n{len(pool)} unlabelled digits for the pretext task, {len(few)} labelled ones")
    print(f"for the probes, {len(test)} test digits")
    guess_average = x[pool].var(dim=0, unbiased=False).mean().item()
    print(f"guessing every pixel's average value scores MSE {guess_average:.4f}")
    torch.manual_seed(SEED + 3)
    random_trunk = make_trunk().to(device)
    ssl_trunk = make_trunk().to(device)
    ssl_trunk.load_state_dict(random_trunk.state_dict())  # the same start
    pretext(ssl_trunk, x[pool], device)
    trunks = {"raw pixels (no trunk)": nn.Identity(), "random trunk": random_trunk}
    trunks["self-supervised trunk"] = ssl_trunk
    for name, trunk in trunks.items():
        print(f"linear probe on {name + ':':<23} test accuracy {probe(trunk, data, device):.3f}")


def main() -> None:
    torch.set_num_threads(1)  # work this small runs faster on one thread
    device = pick_device()
    print(f"device: {device.type}")
    digits = load_digits()  # 1,797 8x8 digits, bundled with scikit-learn
    x = torch.tensor(digits.data, dtype=torch.float32, device=device) / 16  # pixels 0-16 -> 0-1
    y = torch.tensor(digits.target, dtype=torch.long, device=device)
    transfer(x, y, device)
    self_supervised(x, y, device)


if __name__ == "__main__":
    main()
