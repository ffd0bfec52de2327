"""The light and dark palettes in static/css/site.css meet WCAG 2.1 AA contrast."""

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parent.parent / "static" / "css" / "site.css").read_text(encoding="utf-8")

# (foreground, background, minimum ratio): 4.5 for text, 3 for focus rings and
# control borders (WCAG 1.4.3 and 1.4.11).
PAIRS = [
    ("text", "bg", 4.5),
    ("text", "surface", 4.5),
    ("text", "code-bg", 4.5),
    ("text", "mark", 4.5),
    ("muted", "bg", 4.5),
    ("muted", "surface", 4.5),
    ("muted", "code-bg", 4.5),
    ("accent", "bg", 4.5),
    ("accent", "surface", 4.5),
    ("accent", "code-bg", 4.5),
    ("accent-hover", "surface", 4.5),
    ("accent-text", "accent", 4.5),
    ("accent-text", "accent-hover", 4.5),
    ("tag-text", "tag-bg", 4.5),
    ("accent", "tag-bg", 4.5),
    ("text", "tag-bg", 4.5),
    ("focus", "bg", 3),
    ("focus", "surface", 3),
    ("muted", "surface", 3),  # borders of inputs and selects
]


def _palette(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", block))


def _palettes() -> dict[str, dict[str, str]]:
    light = _palette(CSS[CSS.index(":root {") : CSS.index("}", CSS.index(":root {"))])
    start = CSS.index(':root[data-theme="dark"] {')
    dark = {**light, **_palette(CSS[start : CSS.index("}", start)])}
    return {"light": light, "dark": dark}


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted([_luminance(a), _luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_known_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_system_dark_palette_equals_the_toggled_one():
    media = CSS[CSS.index("@media (prefers-color-scheme: dark)") :]
    system = _palette(media[: media.index("}")])
    assert system == {k: v for k, v in _palettes()["dark"].items() if k in system}
    assert len(system) >= 10


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize(("foreground", "background", "minimum"), PAIRS)
def test_theme_colours_pass_wcag_aa(theme, foreground, background, minimum):
    palette = _palettes()[theme]
    ratio = contrast(palette[foreground], palette[background])
    assert ratio >= minimum, f"{theme}: --{foreground} on --{background} is {ratio:.2f}:1"
