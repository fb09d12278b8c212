"""Regenerate the bad uploads under tests/data/ used by tests/test_abuse.py.

    python tests/data/make_abuse_samples.py

Bombs are real, complete PNGs: 1-bit pixels compressed row by row, so they are small on disk but
claim (and would decode to) tens or hundreds of megapixels.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

PDF = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >> endobj
4 0 obj << /Length 44 >> stream
BT /F1 120 Tf 50 40 Td (7) Tj ET
endstream endobj
trailer << /Root 1 0 R >>
%%EOF
"""
SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" viewBox="0 0 100 100">
  <rect width="100" height="100" fill="white"/>
  <path d="M25 20 H75 L45 85" stroke="black" stroke-width="8" fill="none"/>
</svg>
"""
TEXT = b"This is a note, not a picture of a digit: 7.\n"


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def blank_png(width: int, height: int) -> bytes:
    """A white 1-bit PNG of width x height, compressed without holding it in memory."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte "none", then white pixels
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def main() -> None:
    (HERE / "bomb_400mp.png").write_bytes(blank_png(20_000, 20_000))
    (HERE / "huge_50mp.png").write_bytes(blank_png(10_000, 5_000))
    (HERE / "text_named.png").write_bytes(TEXT)
    (HERE / "pdf_named.png").write_bytes(PDF)
    (HERE / "svg_named.png").write_bytes(SVG)
    (HERE / "empty.png").write_bytes(b"")
    whole_png = (HERE / "digit_7.png").read_bytes()
    (HERE / "truncated_7.png").write_bytes(whole_png[: len(whole_png) // 2])
    whole_jpeg = (HERE / "exif_rotated_7.jpg").read_bytes()
    (HERE / "truncated_7.jpg").write_bytes(whole_jpeg[: len(whole_jpeg) * 6 // 10])


if __name__ == "__main__":
    main()
