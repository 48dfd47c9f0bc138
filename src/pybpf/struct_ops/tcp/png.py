"""A small PNG line plotter (no dependencies): stacked panels of time series, with
axis ticks and a legend in a built-in 3x5 pixel font."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

Color = tuple[int, int, int]
PALETTE: tuple[Color, ...] = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14),
                              (148, 103, 189), (140, 86, 75), (23, 190, 207), (127, 127, 127))  # fmt: skip

_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", "-": "000000111000000",
    ":": "000010000010000", " ": "000000000000000", "/": "001001010100100", "(": "010100100100010",
    ")": "010001001001010", "_": "000000000000111", "%": "101001010100101",
    "A": "010101111101101", "B": "110101110101110", "C": "011100100100011", "D": "110101101101110",
    "E": "111100110100111", "F": "111100110100100", "G": "011100101101011", "H": "101101111101101",
    "I": "111010010010111", "J": "001001001101010", "K": "101101110101101", "L": "100100100100111",
    "M": "101111111101101", "N": "110101101101101", "O": "010101101101010", "P": "110101110100100",
    "Q": "010101101110011", "R": "110101110101101", "S": "011100010001110", "T": "111010010010010",
    "U": "101101101101111", "V": "101101101101010", "W": "101101111111101", "X": "101101010101101",
    "Y": "101101010010010", "Z": "111001010100111",
}  # fmt: skip


@dataclass
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float]


@dataclass
class Panel:
    title: str
    series: list[Series]


class Canvas:
    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def dot(self, x: int, y: int, c: Color) -> None:
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i : i + 3] = bytes(c)

    def line(self, x0: int, y0: int, x1: int, y1: int, c: Color) -> None:
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.dot(x0, y0, c)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x: int, y: int, s: str, c: Color = (0, 0, 0), scale: int = 2) -> None:
        for ch in s.upper():
            g = _GLYPHS.get(ch, _GLYPHS[" "])
            for i, bit in enumerate(g):
                if bit == "1":
                    for dx in range(scale):
                        for dy in range(scale):
                            self.dot(x + (i % 3) * scale + dx, y + (i // 3) * scale + dy, c)
            x += 4 * scale

    def png(self) -> bytes:
        raw = b"".join(b"\0" + bytes(self.px[y * self.w * 3 : (y + 1) * self.w * 3]) for y in range(self.h))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        head = struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 or v == 0 else f"{v:.1f}"


def plot(panels: list[Panel], title: str = "", width: int = 900, panel_h: int = 200) -> bytes:
    """The panels one above the other, sharing the x range; returns PNG bytes."""
    top, left, right, gap = 30, 60, 20, 40
    h = top + len(panels) * (panel_h + gap)
    cv = Canvas(width, h)
    cv.text(left, 8, title)
    xs_all = [x for p in panels for s in p.series for x in s.xs]
    x0, x1 = (min(xs_all), max(xs_all)) if xs_all else (0.0, 1.0)
    x1 = x1 if x1 > x0 else x0 + 1
    pw = width - left - right
    for n, p in enumerate(panels):
        y_top = top + n * (panel_h + gap) + 14
        ys_all = [y for s in p.series for y in s.ys]
        ymax = max(ys_all) * 1.05 if ys_all and max(ys_all) > 0 else 1.0
        grey = (200, 200, 200)
        cv.line(left, y_top, left, y_top + panel_h, (0, 0, 0))
        cv.line(left, y_top + panel_h, left + pw, y_top + panel_h, (0, 0, 0))
        for k in range(1, 5):
            yy = y_top + panel_h - panel_h * k // 4
            cv.line(left + 1, yy, left + pw, yy, grey)
            cv.text(4, yy - 5, _fmt(ymax * k / 4))
        for k in range(0, 6):
            xx = left + pw * k // 5
            cv.line(xx, y_top + panel_h, xx, y_top + panel_h + 4, (0, 0, 0))
            cv.text(xx - 10, y_top + panel_h + 8, _fmt(x0 + (x1 - x0) * k / 5))
        cv.text(left + 6, y_top - 12, p.title)
        lx = left + 8 + len(p.title) * 8 + 24
        for i, s in enumerate(p.series):
            c = PALETTE[i % len(PALETTE)]
            prev: tuple[int, int] | None = None
            for x, y in zip(s.xs, s.ys, strict=False):
                px = left + int((x - x0) / (x1 - x0) * pw)
                py = y_top + panel_h - int(min(y, ymax) / ymax * panel_h)
                if prev is not None:
                    cv.line(prev[0], prev[1], px, py, c)
                prev = (px, py)
            cv.line(lx, y_top - 9, lx + 14, y_top - 9, c)
            cv.text(lx + 18, y_top - 12, s.label, c)
            lx += 18 + len(s.label) * 8 + 16
    return cv.png()
