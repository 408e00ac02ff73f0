#!/usr/bin/env python3
"""Writes Fashion-MNIST test images as PNG files (Python's standard library only), for the
ZeroShot example: fashion-mnist-images.py OUT_DIR [COUNT]. Files are named
INDEX-LABELNAME.png; the images come from Debian's dataset-fashion-mnist package."""
import gzip, os, struct, sys, zlib

SOURCE = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

def png(width, height, gray):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + gray[y * width:(y + 1) * width] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)   # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")

def main():
    out, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    images = gzip.open(os.path.join(SOURCE, "t10k-images-idx3-ubyte.gz")).read()
    labels = gzip.open(os.path.join(SOURCE, "t10k-labels-idx1-ubyte.gz")).read()
    _, n, h, w = struct.unpack(">IIII", images[:16])
    os.makedirs(out, exist_ok=True)
    for i in range(min(count, n)):
        name = CLASSES[labels[8 + i]].replace("/", "-").replace(" ", "-")
        with open(os.path.join(out, f"{i:05d}-{name}.png"), "wb") as f:
            f.write(png(w, h, images[16 + i * h * w:16 + (i + 1) * h * w]))

if __name__ == "__main__":
    main()
