"""Text from outside the app is shown as text: every Markdown character escaped, values cut."""

from __future__ import annotations

import re
import string

from hypothesis import given
from hypothesis import strategies as st

from ui.plain_text import plain, shorten


def resolved(markdown: str) -> str:
    """The characters Markdown shows for an escaped text (joiners are invisible)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


@given(st.text(max_size=200).filter(lambda text: "\u2060" not in text))
def test_plain_text_reads_back_as_itself_on_one_line(text: str) -> None:
    assert resolved(plain(text)) == " ".join(text.split())


@given(st.text(alphabet=string.printable, max_size=200))
def test_no_markdown_character_is_left_unescaped(text: str) -> None:
    unescaped = re.sub(r"\\.", "", plain(text))
    assert not set(unescaped) & set(string.punctuation)


def test_addresses_cannot_become_links() -> None:
    shown = plain("see https://evil.example, www.evil.example or me@evil.example")
    assert "https\u2060\\:" in shown and "www\u2060\\." in shown and "me\u2060\\@" in shown


def test_shorten_says_how_long_the_text_was() -> None:
    assert shorten("abc") == "abc"
    assert shorten("x" * 100_000) == "x" * 40 + "… (100,000 characters)"
