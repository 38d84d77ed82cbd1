"""How the emulated hosts read multipart/form-data bodies (what Rack would hand Canvas and Guru)."""

from __future__ import annotations

import os

import requests

from profilesync_sandbox.wire import Part, Request, parse_multipart


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> requests.PreparedRequest:
    return requests.Request("POST", "http://sandbox.invalid/files", data=fields, files=files).prepare()


def test_fields_and_file_come_back_in_order_byte_for_byte() -> None:
    """Fields keep their order, the file its name, type and exact bytes (CR, LF and NUL included)."""
    data = os.urandom(4096) + b"\r\n\r\n--\r"
    sent = multipart({"filename": "me.jpg", "content_type": "image/jpeg"}, {"file": ("me.jpg", data, "image/jpeg")})
    assert isinstance(sent.body, bytes)
    request = Request.parse("POST", "/files", {"content-type": sent.headers["Content-Type"]}, sent.body, "127.0.0.1")
    assert request.multipart
    assert request.parts == [
        Part("filename", None, None, b"me.jpg"),
        Part("content_type", None, None, b"image/jpeg"),
        Part("file", "me.jpg", "image/jpeg", data),
    ]
    assert request.params.get("filename") == "me.jpg" and request.params.get("file") is None


def test_non_ascii_file_names_in_either_spelling() -> None:
    """RFC 2231 ``filename*`` and a browser's raw UTF-8 ``filename`` both give the name back."""
    body = (
        "--B\r\nContent-Disposition: form-data; name=\"a\"; filename*=UTF-8''%C3%A9t%C3%A9.png\r\n\r\nx\r\n"
        '--B\r\nContent-Disposition: form-data; name="b"; filename="été.png"\r\n\r\ny\r\n--B--\r\n'
    ).encode()
    assert [p.filename for p in parse_multipart(body, "multipart/form-data; boundary=B")] == ["été.png", "été.png"]


def test_a_body_without_a_usable_boundary_has_no_parts() -> None:
    """No boundary parameter, or parts without a field name, give nothing to read."""
    body = b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--B--\r\n'
    assert parse_multipart(body, "multipart/form-data") == []
    assert (
        parse_multipart(
            b"--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--\r\n", "multipart/form-data; boundary=B"
        )
        == []
    )
