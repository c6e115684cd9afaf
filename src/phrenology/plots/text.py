"""Token text made safe and readable as Matplotlib labels."""

from __future__ import annotations


def display_token(token: str) -> str:
    """Token text for a tick label or annotation.

    GPT-2 tokens carry their leading space (" the"); it is dropped for readability.
    Whitespace-only tokens are shown escaped ("\\n") or as "␣", and "$" is escaped so
    Matplotlib does not read the text as mathtext.
    """
    text = token.strip()
    if not text:
        text = token.encode("unicode_escape").decode("ascii").replace(" ", "␣") or "∅"
    return text.replace("$", r"\$")


def wrap_title(text: str, width_inches: float, fontsize: float = 10.0) -> str:
    """Break each line of ``text`` so that it fits ``width_inches`` at ``fontsize`` points.

    Keeps long titles and captions inside small figures (e.g. a toy with few prompts).
    """
    import textwrap

    chars = max(20, int(width_inches * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))
