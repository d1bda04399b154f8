#!/usr/bin/env python3
"""Builds assets/fonts/KizashiSansJP.otf: Noto Sans CJK JP (SIL OFL 1.1) cut down to what a
Japanese UI and Japanese file/place names need, so the viewer renders Japanese on any machine
without shipping the 19 MB collection.

Kept: ASCII, Latin-1, general punctuation, arrows, maths, box drawing, CJK symbols, hiragana,
katakana, half/full-width forms, and every kanji of JIS X 0208 levels 1 and 2 (6355) plus the
kanji in our own translation table. Needs fonttools and Debian's fonts-noto-cjk.
Run: python3 scripts/make_font.py  (deterministic: same input font -> same output)
"""
import pathlib
import re
import sys

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = pathlib.Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
OUT = ROOT / "assets" / "fonts" / "KizashiSansJP.otf"

chars = set()
for lo, hi in [(0x20, 0x7E), (0xA0, 0xFF), (0x2000, 0x206F), (0x2190, 0x21FF), (0x2200, 0x22FF),
               (0x2500, 0x257F), (0x25A0, 0x25FF), (0x3000, 0x30FF), (0xFF00, 0xFFEF), (0x00B0, 0x00B3)]:
    chars.update(range(lo, hi + 1))
chars.update(map(ord, "µ²³°±×÷…‐–—―‰′″№℃㎡㎥"))
# JIS X 0208: every two-byte EUC-JP code that decodes.
for a in range(0xA1, 0xFF):
    for b in range(0xA1, 0xFF):
        try:
            chars.update(map(ord, bytes([a, b]).decode("euc_jp")))
        except UnicodeDecodeError:
            pass
# Whatever our translations use (in case one is outside JIS X 0208).
i18n = (ROOT / "src" / "app" / "i18n.rs").read_text(encoding="utf-8")
chars.update(ord(c) for c in i18n if ord(c) > 0x7F)

coll = TTCollection(str(SRC))
font = coll.fonts[0]  # Noto Sans CJK JP
name = font["name"].getDebugName(4)
if name != "Noto Sans CJK JP":
    sys.exit(f"unexpected first face in {SRC}: {name}")
opts = subset.Options()
opts.layout_features = ["*"]
opts.name_IDs = ["*"]
opts.name_languages = ["*"]
opts.notdef_outline = True
opts.hinting = False
opts.desubroutinize = False
s = subset.Subsetter(opts)
s.populate(unicodes=sorted(chars))
s.subset(font)
OUT.parent.mkdir(parents=True, exist_ok=True)
font.save(str(OUT))
print(f"{OUT}: {OUT.stat().st_size} bytes, {len(chars)} code points")
