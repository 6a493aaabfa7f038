"""The OpenCV figures `tests/quality.rs` compares against.

Runs the original program's processing (cv2.resize INTER_AREA to 400x400,
cv2.imencode '.jpg') on the same 32 panned frames as tests/common/mod.rs and
prints the mean JPEG size and PSNR (decoded against the encoder's input).
Run from crates/codec with opencv-python-headless and numpy installed.
OpenCV 5.0.0 printed:
    q95: 73701.8 bytes, 37.756 dB
    q80: 35961.9 bytes, 33.909 dB
"""
import cv2
import numpy as np

a = cv2.imread("testdata/bunny_640x480.png")
b = cv2.imread("testdata/motorcycle_640x480.png")
strip = np.hstack([a, b])
frames = [np.ascontiguousarray(strip[:, 20 * i : 20 * i + 640]) for i in range(32)]


def psnr(x, y):
    mse = np.mean((x.astype(float) - y.astype(float)) ** 2)
    return 10 * np.log10(255 * 255 / mse)


for q in (95, 80):
    sizes, dbs = [], []
    for f in frames:
        small = cv2.resize(f, (400, 400), interpolation=cv2.INTER_AREA)
        _, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, q])
        sizes.append(len(jpeg))
        dbs.append(psnr(small, cv2.imdecode(jpeg, cv2.IMREAD_COLOR)))
    print(f"q{q}: {np.mean(sizes):.1f} bytes, {np.mean(dbs):.3f} dB")
