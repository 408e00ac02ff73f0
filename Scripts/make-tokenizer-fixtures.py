#!/usr/bin/env python3
"""Token-id fixtures for the Swift CLIP tokenizer, made with OpenCLIP's own tokenizer.

Run from the repository root:

    python3 Scripts/make-tokenizer-fixtures.py                 # writes the fixtures
    python3 Scripts/make-tokenizer-fixtures.py --compare .build/debug/tokenize [--count 20000]

The first writes Tests/TokenizationTests/Fixtures/tokenizer.json (and few-merges.txt.gz, a
two-merge file for an error test): for every text of a varied
corpus, its context length, `open_clip.tokenize` row (trailing padding removed, the test pads
it back), `SimpleTokenizer.encode` ids and the `decode` of those ids.
`--compare` fuzzes the Swift `tokenize` command with random captions and Unicode against
OpenCLIP and prints every disagreement (ftfy's mojibake repair is expected to differ).

It needs torch, open-clip-torch, ftfy and regex. If `open_clip` cannot be imported, the script
creates the virtualenv `.venv-ref` (or $VENV_REF) with
`python3 -m venv .venv-ref && .venv-ref/bin/pip install torch open-clip-torch ftfy regex`
and re-runs itself inside it.
"""
import argparse
import gzip
import json
import os
import random
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "Tests", "TokenizationTests", "Fixtures", "tokenizer.json")


def ensure_reference_environment():
    try:
        import open_clip  # noqa: F401
        return
    except ImportError:
        pass
    venv = os.environ.get("VENV_REF", os.path.join(ROOT, ".venv-ref"))
    python = os.path.join(venv, "bin", "python")
    if os.path.realpath(sys.executable) == os.path.realpath(python):
        sys.exit("open_clip is not importable even inside %s" % venv)
    if not os.path.exists(python):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([python, "-m", "pip", "install", "torch", "open-clip-torch", "ftfy", "regex"])
    os.execv(python, [python] + sys.argv)


LONG = (
    "A very long caption describing a crowded street market at dusk, with vendors selling "
    "fresh fruit, vegetables, spices and flowers under colourful awnings, while children run "
    "between the stalls, an old man plays the accordion near a fountain, tourists take photos "
    "of the cathedral's towers, cyclists weave through the crowd, and warm lights begin to glow "
    "in the windows of the buildings that line both sides of the narrow cobblestone road. "
)

CORPUS = [
    # plain captions
    "a photo of a cat.", "a photo of a dog", "A dog running on the beach at sunset.",
    "Two people sitting on a bench in the park", "an aerial view of a city with tall buildings",
    "a close-up photo of a red apple on a wooden table", "This is a picture of a T-shirt/top.",
    "a black and white photo of an ankle boot", "a bad photo of the sneaker.",
    # punctuation
    "Hello, world!!! What's up???", "(parentheses) [brackets] {braces} -- dashes... ok",
    "e-mail: test@example.com; url: https://example.com/path?x=1&y=2", "#hashtag @mention $100 50% off*",
    "wait… what — really – yes", "semi;colon:colon/slash\\backslash|pipe~tilde^caret`tick",
    "!!!???...", "a.b.c. d!e?f", "'single' \"double\" ''empty''",
    # digits
    "1234567890", "3.14159 and 2,718", "In 2023, 15 cats and 7 dogs", "½ ¼ ² ³ ⅻ Ⅻ ٣ ४",
    # accents and scripts
    "café crème brûlée", "Ñandú über naïve façade", "cafe\u0301 composed by NFC", "Straße", "İstanbul",
    "ΣΟΦΟΣ ΟΔΥΣΣΕΥΣ σοφός", "Привет мир", "مرحبا بالعالم", "नमस्ते दुनिया", "สวัสดีครับ", "Ελληνικά",
    # CJK
    "東京タワーの写真", "一只猫在沙发上睡觉", "한국어 문장입니다", "old jamo \u1113\u116e\u11e9 \u1100\u1176 \uac00\u11a8", "ｶﾀｶﾅ halfwidth", "ＦＵＬＬＷＩＤＴＨ　１２３",
    # emoji
    "I love 🍕 and 🐱!!", "👍🏽 family 👨‍👩‍👧‍👦", "flags 🇯🇵🇫🇷", "☕️❤️✨ sparkle",
    # HTML entities
    "Tom &amp; Jerry", "&lt;b&gt;bold&lt;/b&gt;", "it&#39;s", "&#x27;quoted&#x27;", "&amp;amp;",
    "&amp;amp;amp;lt;", "&quot;hi&quot; &nbsp; &copy; 2020", "<b>Tom &amp;amp; Jerry</b>", "&eacute;t&eacute;",
    "&EACUTE;T&EACUTE; &NTILDE; &nTILDE;", "&amp", "&ampfoo &copy2020", "&#128512; &#x1F600;", "&#0; &#x110000; &#55296;",
    "&#150; dash &#x80;", "&hellip; &mdash; &trade; &euro; &lang;x&rang;", "&apos;apos&apos; &AMP; &LT;",
    "&#65&#66;C", "& ampersand alone & and&nbsp;", "x&y;z &unknown; &#xZ;",
    "&TRADE; < &excl;&lpar;", "&amp;halfwidth &half; &check; &star;",
    # contractions and case
    "I'm sure you're right, it's what we'll do, they've, he'd, don't", "IT'S DON'T I'M WE'LL",
    "'sun 'tis ''s", "it'ſ long s", "ThE QuIcK BrOwN FoX", "iPhone macOS GitHub OpenCLIP",
    # whitespace and control characters
    "  lots   of\tspace\n\nand newlines  ", "\u00a0nbsp\u2003em space\u3000ideographic\u2028sep",
    "tab\there", "bell\x07char\x0bvt", "\x1b[31mred\x1b[0m text", "zero\u200bwidth\ufeffbom",
    "c1\x92s \x85 controls",
    # ftfy's per-character fixes
    "It’s “quoted” ‘single’", "ﬁne ﬂower ﬀ", "ĳs Ǆ", "ＡＢＣ！",
    # special tokens and oddities
    "<start_of_text> hi <end_of_text>", "<START_OF_TEXT>x", "<start_of_text", "a\u0345b",
    "</w> in text", "ǅungla", "ΑΣ. Σ ΣΑΣ's",
    # empty and blank
    "", "   ", "\n",
]


def make_fixtures(path):
    import open_clip
    from open_clip.tokenizer import SimpleTokenizer

    tokenizer = SimpleTokenizer()
    cases = [(text, 77) for text in CORPUS]
    cases += [(LONG, 77), (LONG, 248), (LONG * 3, 248), ("a photo of a cat.", 248), ("a photo", 5), ("a photo", 2)]
    entries = []
    for text, context in cases:
        row = open_clip.tokenize([text], context_length=context)[0].tolist()
        last_eot = max(i for i, t in enumerate(row) if t == tokenizer.eot_token_id)
        encoded = tokenizer.encode(text)
        entries.append({
            "text": text,
            "context_length": context,
            "tokens": row[: last_eot + 1],
            "encoded": encoded,
            "decoded": tokenizer.decode(encoded),
        })
    fixture = {
        "source": "open_clip %s SimpleTokenizer, ftfy %s" % (open_clip.__version__, __import__("ftfy").__version__),
        "script": "Scripts/make-tokenizer-fixtures.py",
        "entries": entries,
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print("wrote %d entries, %d bytes to %s" % (len(entries), os.path.getsize(path), path))
    # A valid gzip merges file with only two merges, for the "too few merges" error.
    few = os.path.join(os.path.dirname(path), "few-merges.txt.gz")
    with open(few, "wb") as f:
        f.write(gzip.compress(b"#version: 0.2\na b\nc d\n", mtime=0))


def random_text(rng):
    """A random line: caption words, punctuation, entities and code points from many blocks."""
    words = [w for text in CORPUS for w in text.split()] + ["the", "a", "of", "photo", "cat", "dog"]
    blocks = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
              (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F), (0x2100, 0x218F),
              (0x2460, 0x24FF), (0x3000, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0xFB00, 0xFB4F),
              (0xFF00, 0xFFEF), (0x1F300, 0x1F6FF), (0x1D400, 0x1D7FF), (0x0, 0x1F), (0x80, 0x9F)]
    parts = []
    for _ in range(rng.randint(0, 12)):
        kind = rng.random()
        if kind < 0.5:
            word = rng.choice(words)
            parts.append(word.upper() if rng.random() < 0.1 else word)
        elif kind < 0.6:
            parts.append(rng.choice(["&amp;", "&lt;", "&#39;", "&#x27;", "&quot;", "&nbsp;", "&eacute;",
                                     "&AMP;", "&amp", "&#65", "'s", "'LL", "’", "“", "<", "<start_of_text>"]))
        else:
            low, high = rng.choice(blocks)
            parts.append("".join(chr(rng.randint(low, high)) for _ in range(rng.randint(1, 4))))
        parts.append(rng.choice([" ", " ", " ", "", "  ", "\t", ". ", ", "]))
    text = "".join(parts)
    text = "".join(c for c in text if c != "\n" and not 0xD800 <= ord(c) <= 0xDFFF)
    return text


def compare(binary, count, seed, context):
    from open_clip.tokenizer import SimpleTokenizer

    tokenizer = SimpleTokenizer()
    rng = random.Random(seed)
    texts = [random_text(rng) for _ in range(count)] + [t for t in CORPUS if "\n" not in t]
    data = "".join(t + "\n" for t in texts).encode("utf-8")
    result = subprocess.run([binary, "--context-length", str(context)], input=data, capture_output=True, check=True)
    rows = result.stdout.decode().splitlines()
    assert len(rows) == len(texts), "%d rows for %d texts" % (len(rows), len(texts))
    mismatches = 0
    for text, row in zip(texts, rows):
        expected = tokenizer([text], context_length=context)[0].tolist()
        actual = [int(x) for x in row.split()]
        if actual != expected:
            mismatches += 1
            if mismatches <= 20:
                print("MISMATCH %r\n  open_clip %s\n  swift     %s" % (text, expected[:24], actual[:24]))
    print("%d of %d texts differ" % (mismatches, len(texts)))
    return mismatches


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default=OUTPUT)
    parser.add_argument("--compare", metavar="TOKENIZE_BINARY")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--context-length", type=int, default=77)
    args = parser.parse_args()
    ensure_reference_environment()
    if args.compare:
        sys.exit(1 if compare(args.compare, args.count, args.seed, args.context_length) else 0)
    make_fixtures(args.output)


if __name__ == "__main__":
    main()
