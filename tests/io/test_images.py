"""io/images.py: every kind of file is generated in tmp_path and read back pixel by pixel."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from segtool.core.errors import ImageReadError, SegtoolError
from segtool.io.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    apply_orientation,
    file_hash,
    is_image_file,
    load_image,
    probe_image,
    scale_to_uint8,
)

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".webp"])
def test_lossless_formats_round_trip_exactly(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"img{suffix}"
    kwargs = {"lossless": True} if suffix == ".webp" else {}
    Image.fromarray(RGB).save(path, **kwargs)
    out = load_image(path)
    assert out.dtype == np.uint8 and out.shape == (37, 53, 3)
    np.testing.assert_array_equal(out, RGB)
    info = probe_image(path)
    assert (info.width, info.height) == (53, 37)


def test_jpeg_is_close_and_rgb_ordered(tmp_path: Path) -> None:
    img = np.zeros((40, 60, 3), np.uint8)
    img[:, :20] = (255, 0, 0)
    img[:, 20:40] = (0, 255, 0)
    img[:, 40:] = (0, 0, 255)
    Image.fromarray(img).save(tmp_path / "a.jpg", quality=95)
    out = load_image(tmp_path / "a.jpg")
    assert np.abs(out[5:35, 3:17].astype(int) - (255, 0, 0)).max() < 12
    assert np.abs(out[5:35, 43:57].astype(int) - (0, 0, 255)).max() < 12
    assert probe_image(tmp_path / "a.jpg").format == "JPEG"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / f"o{orientation}.png"
    image = Image.fromarray(RGB)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(path, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    out = load_image(path)
    np.testing.assert_array_equal(out, expected)
    info = probe_image(path)
    assert (info.height, info.width) == out.shape[:2]
    assert info.orientation == orientation
    if orientation in (5, 6, 7, 8):
        assert out.shape[:2] == (53, 37)
    # orientation 6 means "rotate 90 degrees clockwise to view": the stored top-left goes top-right
    if orientation == 6:
        np.testing.assert_array_equal(out[0, -1], RGB[0, 0])


JPEG_VARIANTS = {"baseline": {"quality": 90}, "progressive": {"quality": 85, "progressive": True},
                 "444": {"quality": 95, "subsampling": 0}, "422": {"quality": 80, "subsampling": 1},
                 "low": {"quality": 15}}


@pytest.mark.parametrize("variant", sorted(JPEG_VARIANTS))
@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_rgb_jpegs_decode_to_pillows_pixels_upright(tmp_path: Path, variant: str, orientation: int) -> None:
    """RGB JPEGs are decoded by OpenCV (GIL released, twice as fast): the very pixels Pillow decodes, with
    the EXIF orientation applied once (OpenCV's own rotation is off)."""
    rng = np.random.default_rng(orientation)
    pixels = cv2.resize(rng.integers(0, 256, (9, 13, 3), dtype=np.uint8), (331, 217), interpolation=cv2.INTER_CUBIC)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"{variant}-{orientation}.jpg"
    Image.fromarray(pixels).save(path, exif=exif.tobytes(), **JPEG_VARIANTS[variant])
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    np.testing.assert_array_equal(load_image(path), expected)


def test_gray_and_cmyk_jpegs_keep_pillows_conversion(tmp_path: Path) -> None:
    gray = (np.arange(40 * 30) % 251).astype(np.uint8).reshape(30, 40)
    Image.fromarray(gray).save(tmp_path / "g.jpg", quality=90)
    Image.fromarray(np.dstack([gray, 255 - gray, gray // 2])).convert("CMYK").save(tmp_path / "c.jpg", quality=90)
    for name in ("g.jpg", "c.jpg"):
        expected = np.asarray(Image.open(tmp_path / name).convert("RGB"))
        np.testing.assert_array_equal(load_image(tmp_path / name), expected)


def test_apply_orientation_matches_pillow_for_all_tags() -> None:
    pil = Image.fromarray(RGB)
    for tag, method in [(2, Image.Transpose.FLIP_LEFT_RIGHT), (3, Image.Transpose.ROTATE_180),
                        (4, Image.Transpose.FLIP_TOP_BOTTOM), (5, Image.Transpose.TRANSPOSE),
                        (6, Image.Transpose.ROTATE_270), (7, Image.Transpose.TRANSVERSE),
                        (8, Image.Transpose.ROTATE_90)]:
        np.testing.assert_array_equal(apply_orientation(RGB, tag), np.asarray(pil.transpose(method)))


def test_gray_and_alpha_and_palette(tmp_path: Path) -> None:
    gray = RGB[:, :, 0]
    Image.fromarray(gray).save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    assert out.shape == (37, 53, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], gray)

    rgba = np.dstack([RGB, np.full(RGB.shape[:2], 10, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), RGB)  # alpha dropped, colours kept

    pal = Image.fromarray(RGB).quantize(colors=16)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", transparency=0)
    expected = np.asarray(pal.convert("RGB"))
    assert Image.open(tmp_path / "p.png").mode == "P"
    np.testing.assert_array_equal(load_image(tmp_path / "p.png"), expected)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_gray_is_range_scaled_not_truncated(tmp_path: Path, suffix: str) -> None:
    # 12-bit data in a 16-bit container: truncation would give v & 255, a plain shift v >> 8 near-black
    data = np.tile(np.linspace(100, 4095, 64).astype(np.uint16), (10, 1))
    cv2.imwrite(str(tmp_path / f"g{suffix}"), data)
    out = load_image(tmp_path / f"g{suffix}")
    assert out.shape == (10, 64, 3)
    assert out[0, 0, 0] == 0 and out[0, -1, 0] == 255
    expected = np.rint((data.astype(float) - 100) * 255 / (4095 - 100)).astype(np.uint8)
    np.testing.assert_array_equal(out[:, :, 1], expected)
    assert np.all(np.diff(out[0, :, 0].astype(int)) >= 0)  # monotonic, no wrap-around


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_colour_keeps_channel_order_and_scales(tmp_path: Path, suffix: str) -> None:
    rgb16 = np.zeros((8, 12, 3), np.uint16)
    rgb16[:, :, 0] = 60000  # red high
    rgb16[:, :, 1] = 1000
    rgb16[:, 6:, 2] = 30000
    cv2.imwrite(str(tmp_path / f"c{suffix}"), rgb16[:, :, ::-1])  # OpenCV writes BGR
    out = load_image(tmp_path / f"c{suffix}")
    expected = np.rint(rgb16.astype(float) * 255 / 60000).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)


def test_multipage_tiff_gives_first_page(tmp_path: Path) -> None:
    pages = [Image.fromarray(RGB), Image.fromarray(255 - RGB), Image.fromarray(RGB[::-1].copy())]
    pages[0].save(tmp_path / "m.tif", save_all=True, append_images=pages[1:])
    np.testing.assert_array_equal(load_image(tmp_path / "m.tif"), RGB)
    assert probe_image(tmp_path / "m.tif").frames == 3


def _png_header_only(width: int, height: int) -> bytes:
    """A syntactically valid PNG that *claims* ``width x height`` with a tiny data stream."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_decompression_bomb_refused_from_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_only(40_000, 40_000))  # 1.6 gigapixels, a few hundred bytes on disk
    for call in (load_image, probe_image):
        with pytest.raises(ImageReadError, match="bomb.png.*megapixels"):
            call(bomb)
    small = tmp_path / "small.png"
    Image.fromarray(RGB).save(small)
    with pytest.raises(ImageReadError, match="limit"):
        load_image(small, max_pixels=1000)
    monkeypatch.setenv("SEGTOOL_MAX_PIXELS", "1000")
    with pytest.raises(ImageReadError, match="small.png"):
        probe_image(small)
    assert load_image(small, max_pixels=DEFAULT_MAX_PIXELS).shape == (37, 53, 3)


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    Image.fromarray(RGB).save(tmp_path / "ok.jpg", quality=90)
    Image.fromarray(RGB).save(tmp_path / "ok.png")
    Image.fromarray(RGB).save(tmp_path / "ok.tif")
    files = {
        "zero": tmp_path / "zero.jpg",
        "text": tmp_path / "notes.png",
        "garbage": tmp_path / "noise.jpg",
        "trunc_jpg": tmp_path / "trunc.jpg",
        "trunc_png": tmp_path / "trunc.png",
        "trunc_tif": tmp_path / "trunc.tif",
        "missing": tmp_path / "missing.png",
        "folder": tmp_path / "folder.png",
    }
    files["zero"].write_bytes(b"")
    files["text"].write_text("this is not an image\n")
    files["garbage"].write_bytes(b"\xff\xd8\xff\xe0" + RNG.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    for kind, src in (("trunc_jpg", "ok.jpg"), ("trunc_png", "ok.png"), ("trunc_tif", "ok.tif")):
        data = (tmp_path / src).read_bytes()
        files[kind].write_bytes(data[: len(data) // 2])
    files["folder"].mkdir()
    return files


def test_every_bad_file_raises_image_read_error_naming_it(tmp_path: Path) -> None:
    for kind, path in _bad_files(tmp_path).items():
        with pytest.raises(ImageReadError) as err:
            load_image(path)
        assert path.name in str(err.value), kind
        assert isinstance(err.value, SegtoolError)


def test_probe_rejects_what_the_header_shows(tmp_path: Path) -> None:
    files = _bad_files(tmp_path)
    for kind in ("zero", "text", "trunc_png", "missing", "folder"):
        with pytest.raises(ImageReadError, match=files[kind].name):
            probe_image(files[kind])


def test_hundred_megapixel_image_loads(tmp_path: Path) -> None:
    h, w = 10_000, 10_000
    gray = np.zeros((h, w), np.uint8)
    gray[::997, :] = 200
    gray[h - 1, w - 1] = 77
    cv2.imwrite(str(tmp_path / "big.png"), gray, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    del gray
    out = load_image(tmp_path / "big.png")
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    assert out[997, 5, 1] == 200 and out[998, 5, 1] == 0 and out[-1, -1, 2] == 77


def test_file_hash_streams_and_distinguishes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    payload = RNG.integers(0, 256, 3_000_000, dtype=np.uint8).tobytes()
    a.write_bytes(payload)
    b.write_bytes(payload[:-1] + bytes([payload[-1] ^ 1]))
    assert file_hash(a) == file_hash(a, chunk_size=4096)
    assert file_hash(a) != file_hash(b)
    assert len(file_hash(a)) == 32
    with pytest.raises(ImageReadError, match="nothing.bin"):
        file_hash(tmp_path / "nothing.bin")


def test_extensions_and_scaling_helpers() -> None:
    for suffix in (".jpg", ".JPEG", ".png", ".tif", ".tiff", ".bmp", ".webp"):
        assert is_image_file(f"x{suffix}")
    assert not is_image_file("x.txt") and ".png" in IMAGE_EXTENSIONS
    f = np.array([[0.0, np.nan], [0.5, 1.0]])
    np.testing.assert_array_equal(scale_to_uint8(f), [[0, 0], [128, 255]])
