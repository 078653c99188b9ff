"""Class sessions: a teacher's deck of demos, a join code, and the class's predictions.

No Streamlit here: the teacher's and the students' pages read and change a class through
this store, and a student's screen polls `view()` (cheap: one lock, a few counters) rather
than rerunning a whole page. The store keeps only what a lesson needs for its length: a
class idle for `IDLE_SECONDS` is dropped with its nicknames and predictions.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

# No 0/O, 1/I/L, 2/Z or 5/S: a code read off a projector is typed without guessing.
CODE_ALPHABET = "ABCDEFGHJKMNPQRTUVWXY346789"
CODE_LENGTH = 6  # 27**6: about 387 million codes, tried one request at a time
IDLE_SECONDS = 2 * 60 * 60
MAX_STUDENTS = 200
MAX_NICKNAME = 24
# The two class games: predict what a named bug's curve will do, then train it; or hunt:
# everyone sees a mystery bug's curves at once and names the bug.
PREDICT, HUNT = "predict", "hunt"
GAMES = (PREDICT, HUNT)


class ClassroomError(ValueError):
    """A request the class cannot take (a wrong code, a full class); the text says why."""


@dataclass(frozen=True)
class Demo:
    """One demo of a deck: a broken variant trained against the healthy baseline."""

    variant: str
    title: str
    question: str = "What will the broken curve do?"
    # Bug Hunt: the bug names offered (the right one among them); empty: the curve answers.
    choices: tuple[str, ...] = ()


@dataclass
class ClassSession:
    code: str
    teacher_token: str  # only the teacher's browser holds it: it moves and reveals
    deck: tuple[Demo, ...]
    deck_name: str
    game: str = PREDICT
    current: int = 0
    revealed: bool = False
    version: int = 0  # bumped on every change, so a polling screen redraws only on news
    students: dict[str, str] = field(default_factory=dict)  # student id -> nickname
    predictions: dict[int, dict[str, str]] = field(default_factory=dict)  # demo -> id -> answer
    correct: Counter[str] = field(default_factory=Counter)  # student id -> right guesses
    scored: set[int] = field(default_factory=set)  # demos already counted in the score
    revealed_demos: set[int] = field(default_factory=set)
    last_active: float = field(default_factory=time.monotonic)

    def touch(self) -> None:
        self.version += 1
        self.last_active = time.monotonic()


@dataclass(frozen=True)
class ClassView:
    """What every screen in the class shows now, copied out of the store."""

    code: str
    deck_name: str
    game: str
    demo: Demo
    position: int  # 1-based
    deck_size: int
    revealed: bool
    version: int
    joined: int
    answered: int
    counts: dict[str, int]  # answer -> how many students chose it
    your_answer: str | None = None
    your_score: int = 0
    scores: tuple[tuple[str, int], ...] = ()  # (nickname, right guesses), best first

    @property
    def hides_bug(self) -> bool:
        """A hunt's mystery before its reveal: the bug's name stays off every screen."""
        return self.game == HUNT and not self.revealed

    @property
    def shown_title(self) -> str:
        """The demo's title as screens show it: "Mystery N" while a hunt hides the bug."""
        return f"Mystery {self.position}" if self.hides_bug else self.demo.title

    @property
    def shows_runs(self) -> bool:
        """Whether screens show the demo's curves now: after a reveal, or all along in a hunt."""
        return self.revealed or self.game == HUNT


def normalise_code(text: str) -> str:
    """What a student typed, as a code: upper case, spaces and dashes dropped."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


class Classroom:
    """Every class on this server (one store per process; Redis-backed when scaled out)."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self._classes: dict[str, ClassSession] = {}
        self._lock = threading.Lock()
        self.idle_seconds = idle_seconds

    def start(self, deck: tuple[Demo, ...], deck_name: str, game: str = PREDICT) -> ClassSession:
        """A new class on this deck, with a fresh code no other class here is using."""
        if not deck:
            raise ClassroomError("A class needs at least one demo in its deck.")
        if game not in GAMES:
            raise ClassroomError(f"Unknown game {game[:20]!r}: choose one of {', '.join(GAMES)}.")
        with self._lock:
            self._drop_idle()
            code = self._new_code()
            token = secrets.token_urlsafe(16)
            session = ClassSession(code, token, tuple(deck), deck_name, game)
            self._classes[code] = session
            return session

    def _new_code(self) -> str:
        while True:
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if code not in self._classes:
                return code

    def _get(self, code: str) -> ClassSession:  # call with the lock held
        self._drop_idle()
        session = self._classes.get(normalise_code(code))
        if session is None:
            shown = normalise_code(code)[: CODE_LENGTH + 4] or "(empty)"
            raise ClassroomError(
                f"No class has the code {shown}. Check the {CODE_LENGTH}-letter code on "
                "your teacher's screen; a class ends after two hours without activity."
            )
        return session

    def _drop_idle(self) -> None:  # call with the lock held
        now = time.monotonic()
        for code in [
            c for c, s in self._classes.items() if now - s.last_active > self.idle_seconds
        ]:
            del self._classes[code]

    def _teacher(self, code: str, token: str) -> ClassSession:
        session = self._get(code)
        if not secrets.compare_digest(session.teacher_token, token):
            raise ClassroomError("Only the teacher who started this class can change it.")
        return session

    def join(self, code: str, nickname: str = "") -> str:
        """A new student's id in this class (a nickname is optional and kept short)."""
        with self._lock:
            session = self._get(code)
            if len(session.students) >= MAX_STUDENTS:
                raise ClassroomError(f"This class is full ({MAX_STUDENTS} students).")
            student = secrets.token_urlsafe(12)
            name = " ".join(nickname.split())[:MAX_NICKNAME]
            session.students[student] = name or f"Student {len(session.students) + 1}"
            session.touch()
            return student

    def predict(self, code: str, student: str, answer: str, answers: tuple[str, ...]) -> None:
        """Record (or change) a student's guess for the current demo, until the reveal."""
        if answer not in answers:
            raise ClassroomError(f"Unknown answer {answer[:40]!r}: choose one of the options.")
        with self._lock:
            session = self._get(code)
            if student not in session.students:
                raise ClassroomError("Join the class first.")
            if session.revealed:
                raise ClassroomError("The answer is already revealed: wait for the next demo.")
            session.predictions.setdefault(session.current, {})[student] = answer
            session.touch()

    def move(self, code: str, token: str, step: int) -> None:
        """Next (+1) or previous (-1) demo; its predictions so far are kept."""
        with self._lock:
            session = self._teacher(code, token)
            session.current = min(max(session.current + step, 0), len(session.deck) - 1)
            session.revealed = session.current in session.revealed_demos
            session.touch()

    def reveal(self, code: str, token: str) -> None:
        """Show the current demo's runs to everyone (they train once, for the class)."""
        with self._lock:
            session = self._teacher(code, token)
            session.revealed = True
            session.revealed_demos.add(session.current)
            session.touch()

    def settle(self, code: str, token: str, right_answers: set[str]) -> None:
        """Score the revealed demo's guesses, once, when its runs have finished."""
        with self._lock:
            session = self._teacher(code, token)
            if not session.revealed or session.current in session.scored:
                return
            session.scored.add(session.current)
            for student, answer in session.predictions.get(session.current, {}).items():
                session.correct[student] += answer in right_answers
            session.touch()

    def restart(self, code: str, token: str) -> None:
        """Ask the current demo again: its predictions, reveal and points are cleared."""
        with self._lock:
            session = self._teacher(code, token)
            session.revealed = False
            session.revealed_demos.discard(session.current)
            session.scored.discard(session.current)
            session.predictions.pop(session.current, None)
            session.touch()

    def end(self, code: str, token: str) -> None:
        """End the class now: its nicknames and predictions are dropped."""
        with self._lock:
            self._teacher(code, token)
            del self._classes[normalise_code(code)]

    def view(self, code: str, student: str | None = None) -> ClassView:
        """The class as every screen shows it, plus this student's own answer and score."""
        with self._lock:
            session = self._get(code)
            guesses = session.predictions.get(session.current, {})
            return ClassView(
                code=session.code,
                deck_name=session.deck_name,
                game=session.game,
                demo=session.deck[session.current],
                position=session.current + 1,
                deck_size=len(session.deck),
                revealed=session.revealed,
                version=session.version,
                joined=len(session.students),
                answered=len(guesses),
                counts=dict(Counter(guesses.values())),
                your_answer=guesses.get(student) if student else None,
                your_score=session.correct[student] if student else 0,
                scores=tuple(
                    sorted(
                        ((session.students[s], n) for s, n in session.correct.items()),
                        key=lambda item: (-item[1], item[0]),
                    )
                ),
            )

    def active_classes(self) -> int:
        with self._lock:
            self._drop_idle()
            return len(self._classes)


_shared: Classroom | None = None
_shared_lock = threading.Lock()


def shared_classroom() -> Classroom:
    """The server's one store of classes."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Classroom()
        return _shared
