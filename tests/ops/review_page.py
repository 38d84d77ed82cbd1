"""Helpers for the review page tests: decoding data: URIs and making solid-colour pictures."""

from __future__ import annotations

import base64
import io

from PIL import Image


def data_uri_bytes(uri: str) -> bytes:
    """The bytes a base64 ``data:`` URI carries."""
    header, _, payload = uri.partition(",")
    assert header.startswith("data:") and header.endswith(";base64"), header
    return base64.b64decode(payload)


def solid_png(colour: tuple[int, int, int], size: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, "PNG")
    return out.getvalue()


def solid_jpeg(colour: tuple[int, int, int], size: int = 300) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, "JPEG", quality=95)
    return out.getvalue()
