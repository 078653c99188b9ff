"""Text that came from outside (a URL, an upload, a log), made safe to put on a page.

Streamlit renders Markdown in `st.markdown`, `st.warning`, `st.error` and friends: links,
images, `:red[...]` colour directives, `$...$` maths and bare web addresses all come alive.
A share link or an uploaded log must never be able to show a classmate a link, load an
image or dress up a fake notice, so every such text goes through `plain` (every Markdown
character escaped, lines joined) and values are cut down with `shorten` first.
"""

from __future__ import annotations

import re
import string

# CommonMark lets a backslash escape any ASCII punctuation character, and an escaped one is
# shown as itself: escaping all of them disarms links, images, emphasis, HTML, colour and
# emoji directives (":red[...]", ":smile:") and maths ("$").
_ESCAPED = {ord(character): "\\" + character for character in string.punctuation}
# GitHub-flavoured Markdown also turns bare addresses into links after escapes are resolved
# ("https\://x" still becomes a link, seen in Chromium). An invisible word joiner where the
# address starts ("https⁠://", "www⁠.", "⁠@") stops that and leaves the text as it reads.
_WORD_JOINER = "\u2060"
_ADDRESS_STARTS = re.compile(r"(?i)(?<=[a-z])(?=://)|(?<=www)(?=\.)|(?=@)")


def shorten(text: str, limit: int = 40) -> str:
    """At most `limit` characters of `text`, saying how long it was when it is cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def plain(text: str) -> str:
    """`text` as Markdown that renders to these characters on one line, links not live."""
    one_line = re.sub(r"\s+", " ", text).strip()
    return _ADDRESS_STARTS.sub(_WORD_JOINER, one_line).translate(_ESCAPED)
