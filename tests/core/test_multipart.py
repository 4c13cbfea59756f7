"""Tests for lcore.multipart (the sans-I/O parser, parse_options_header, FileUpload)."""

from __future__ import annotations

import io
import os
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lcore.exceptions import MultipartError
from lcore.multipart import FileUpload, MultipartParser, Part, parse_options_header

BOUNDARY = b"----lcoreBoundary7MA4YWxkTrZu0gW"


def field(name: str, value: bytes | str, extra: str = "") -> bytes:
    if isinstance(value, str):
        value = value.encode("utf8")
    head = f'Content-Disposition: form-data; name="{name}"\r\n{extra}\r\n'
    return b"--" + BOUNDARY + b"\r\n" + head.encode("utf8") + value + b"\r\n"


def upload(name: str, filename: str, data: bytes, ctype: str = "text/plain") -> bytes:
    head = (
        f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        f"Content-Type: {ctype}\r\n\r\n"
    )
    return b"--" + BOUNDARY + b"\r\n" + head.encode("utf8") + data + b"\r\n"


def end() -> bytes:
    return b"--" + BOUNDARY + b"--\r\n"


_OPEN_PARTS: list[Part] = []


@pytest.fixture(autouse=True)
def _close_parts():
    """Close every part parse() returned, so spooled temp files never leak."""
    yield
    while _OPEN_PARTS:
        _OPEN_PARTS.pop().close()


def parse(body: bytes, chunk: int | None = None, **kw) -> list[Part]:
    parser = MultipartParser(BOUNDARY, **kw)
    if chunk is None:
        parser.feed(body)
    else:
        for i in range(0, len(body), chunk):
            parser.feed(body[i : i + chunk])
    parts = parser.close()
    _OPEN_PARTS.extend(parts)
    return parts


def summary(parts: list[Part]) -> list[tuple]:
    return [(p.name, p.filename, p.content_type, p.file.read()) for p in parts]


SAMPLE = (
    field("a", "1")
    + field("empty", "")
    + upload("doc", "notes.txt", b"line1\r\nline2\r\n--not-a-boundary\r\n\r")
    + field("crlf", "\r\n\r\n")
    + end()
)
EXPECTED = [
    ("a", None, "text/plain", b"1"),
    ("empty", None, "text/plain", b""),
    ("doc", "notes.txt", "text/plain", b"line1\r\nline2\r\n--not-a-boundary\r\n\r"),
    ("crlf", None, "text/plain", b"\r\n\r\n"),
]


# --------------------------------------------------------------------------- basics


def test_fields_and_files():
    parts = parse(SAMPLE)
    assert summary(parts) == EXPECTED
    a, empty, doc, _ = parts
    assert a.value == "1" and a.size == 1 and not a.is_file
    assert empty.value == "" and empty.size == 0
    assert doc.is_file and doc.size == len(EXPECTED[2][3])
    assert doc.get_header("content-type") == "text/plain"
    assert ("Content-Type", "text/plain") in doc.headers
    assert isinstance(a.file, io.BytesIO)
    assert a.raw == b"1"
    assert a.charset == "utf8"
    for p in parts:
        p.close()


@pytest.mark.parametrize("chunk", range(1, len(SAMPLE) + 1))
def test_every_chunk_size(chunk):
    assert summary(parse(SAMPLE, chunk=chunk)) == EXPECTED


def test_split_at_every_position():
    for cut in range(len(SAMPLE) + 1):
        parser = MultipartParser(BOUNDARY)
        parser.feed(SAMPLE[:cut])
        parser.feed(SAMPLE[cut:])
        assert summary(parser.close()) == EXPECTED, cut


def test_three_way_splits_around_the_boundary():
    body = field("x", "A" * 10) + field("y", "B") + end()
    n = len(body)
    for i in range(0, n, 3):
        for j in range(i, n, 5):
            parser = MultipartParser(BOUNDARY)
            for piece in (body[:i], body[i:j], body[j:]):
                parser.feed(piece)
            assert [(p.name, p.value) for p in parser.close()] == [("x", "A" * 10), ("y", "B")]


def test_empty_body_with_only_final_boundary():
    assert parse(b"--" + BOUNDARY + b"--") == []
    assert parse(b"--" + BOUNDARY + b"--\r\n") == []


def test_str_boundary_and_no_trailing_crlf_after_final():
    body = field("a", "x") + b"--" + BOUNDARY + b"--"
    parser = MultipartParser(BOUNDARY.decode())
    parser.feed(body)
    assert [p.value for p in parser.close()] == ["x"]


def test_preamble_and_epilogue_are_ignored():
    body = (
        b"This is the preamble.\r\n--"
        + BOUNDARY[:-1]
        + b"X\r\nstill preamble\r\n"
        + field("a", "1")
        + end()
        + b"epilogue --"
        + BOUNDARY
        + b"\r\nmore junk"
    )
    for chunk in (None, 1, 7):
        assert [(p.name, p.value) for p in parse(body, chunk=chunk)] == [("a", "1")]


def test_boundary_text_inside_a_line_is_data():
    data = b"xx--" + BOUNDARY + b"\r\n--" + BOUNDARY[:-2] + b"\r\n"
    parts = parse(upload("f", "f.bin", data) + end(), chunk=3)
    assert parts[0].file.read() == data


def test_transport_padding_after_boundary():
    body = b"--" + BOUNDARY + b"  \t\r\n" + b'Content-Disposition: form-data; name="a"\r\n\r\nv'
    body += b"\r\n--" + BOUNDARY + b"-- \r\n"
    assert [p.value for p in parse(body, chunk=1)] == ["v"]


def test_parts_property_and_repr():
    parser = MultipartParser(BOUNDARY)
    parser.feed(field("a", "1") + field("b", "2"))
    assert [p.name for p in parser.parts] == ["a"]  # "b" is still open
    parser.feed(end())
    parts = parser.close()
    assert [p.name for p in parts] == ["a", "b"]
    assert "field" in repr(parts[0])
    assert parser.close() == parts  # idempotent


def test_charset_from_part_content_type():
    body = field("a", "caf\xe9".encode("latin-1"), "Content-Type: text/plain; charset=latin-1\r\n")
    (part,) = parse(body + end())
    assert part.charset == "latin-1"
    assert part.value == "café"


def test_undecodable_value_is_a_400():
    (part,) = parse(field("a", b"\xff\xfe") + end())
    with pytest.raises(MultipartError) as info:
        part.value
    assert info.value.status == 400


def test_unknown_charset_is_a_400():
    body = field("a", "x", "Content-Type: text/plain; charset=no-such-codec\r\n")
    (part,) = parse(body + end())
    with pytest.raises(MultipartError):
        part.value


def test_default_content_types():
    body = (
        b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\n'
        b"data\r\n" + end()
    )
    (part,) = parse(body)
    assert part.content_type == "application/octet-stream"
    assert part.is_file


def test_header_folding_and_case():
    body = (
        b"--" + BOUNDARY + b"\r\ncontent-DISPOSITION: form-data;\r\n"
        b' name="folded"\r\nX-Extra:   v  \r\n\r\nok\r\n' + end()
    )
    (part,) = parse(body)
    assert part.name == "folded"
    assert part.get_header("x-extra") == "v"
    assert part.get_header("missing", "d") == "d"


# --------------------------------------------------------------------------- filenames


def test_unicode_filenames():
    raw = 'Content-Disposition: form-data; name="f"; filename="résumé ✓.txt"\r\n\r\n'
    body = b"--" + BOUNDARY + b"\r\n" + raw.encode("utf8") + b"x\r\n" + end()
    (part,) = parse(body)
    assert part.filename == "résumé ✓.txt"
    assert FileUpload.from_part(part).filename == "resume-.txt"


def test_rfc5987_filename_star_wins():
    raw = (
        'Content-Disposition: form-data; name="f"; filename="fallback.txt"; '
        "filename*=UTF-8''%E2%82%AC%20rates.txt\r\n\r\n"
    )
    body = b"--" + BOUNDARY + b"\r\n" + raw.encode() + b"x\r\n" + end()
    (part,) = parse(body)
    assert part.filename == "€ rates.txt"


def test_quoted_string_escapes_in_filename():
    raw = 'Content-Disposition: form-data; name="f"; filename="a \\"quoted\\" \\\\ name"\r\n\r\n'
    body = b"--" + BOUNDARY + b"\r\n" + raw.encode() + b"x\r\n" + end()
    (part,) = parse(body)
    assert part.filename == 'a "quoted" \\ name'


def test_windows_path_backslashes_are_kept_raw():
    raw = 'Content-Disposition: form-data; name="f"; filename="C:\\Users\\me\\cv.pdf"\r\n\r\n'
    body = b"--" + BOUNDARY + b"\r\n" + raw.encode() + b"x\r\n" + end()
    (part,) = parse(body)
    assert part.filename == "C:\\Users\\me\\cv.pdf"
    assert FileUpload.from_part(part).filename == "cv.pdf"


def test_latin1_header_fallback():
    raw = 'Content-Disposition: form-data; name="f"; filename="na\xefve.txt"\r\n\r\n'
    body = b"--" + BOUNDARY + b"\r\n" + raw.encode("latin-1") + b"x\r\n" + end()
    (part,) = parse(body)
    assert part.filename == "naïve.txt"


def test_empty_filename_is_still_a_file_part():
    (part,) = parse(upload("f", "", b"") + end())
    assert part.filename == "" and part.is_file


# --------------------------------------------------------------------------- parse_options_header


@pytest.mark.parametrize(
    "header, expected",
    [
        ("", ("", {})),
        ("text/plain", ("text/plain", {})),
        (
            "Multipart/Form-Data; boundary=----abc; Charset=UTF-8",
            ("multipart/form-data", {"boundary": "----abc", "charset": "UTF-8"}),
        ),
        (
            'form-data; name="a;b"; filename="x.txt"',
            ("form-data", {"name": "a;b", "filename": "x.txt"}),
        ),
        ('form-data; name="a"; name="b"', ("form-data", {"name": "a"})),
        ("form-data; junk; =x; name = v ", ("form-data", {"name": "v"})),
        ('x; a="unterminated', ("x", {"a": "unterminated"})),
        (
            "attachment; filename*0*=UTF-8''%E2%82; filename*1*=%AC; filename*2=\".txt\"",
            ("attachment", {"filename": "€.txt"}),
        ),
        ("attachment; filename*=bogus", ("attachment", {})),
        (
            "attachment; filename*=no-such-codec''abc; filename=ok",
            ("attachment", {"filename": "ok"}),
        ),
        ("attachment; filename*1=only-second", ("attachment", {})),
    ],
)
def test_parse_options_header(header, expected):
    assert parse_options_header(header) == expected


def test_parse_options_header_is_linear():
    start = time.perf_counter()
    parse_options_header("x" + ";" * 200_000 + "a=b")
    parse_options_header('x; a="' + "\\" * 200_001)
    assert time.perf_counter() - start < 2


# --------------------------------------------------------------------------- malformed input


def expect_error(body: bytes, status: int, match: str, chunk: int | None = None, **kw):
    with pytest.raises(MultipartError, match=match) as info:
        parse(body, chunk=chunk, **kw)
    assert info.value.status == status
    return info.value


def test_missing_final_boundary():
    expect_error(field("a", "1"), 400, "final boundary")
    expect_error(field("a", "1")[:-2], 400, "final boundary")
    expect_error(b"", 400, "final boundary")
    expect_error(b"no boundary at all", 400, "final boundary")
    expect_error(field("a", "1") + b"--" + BOUNDARY + b"-", 400, "final boundary")


def test_truncated_inside_headers():
    expect_error(
        b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="a"\r\n', 400, "final"
    )


def test_garbage_after_boundary():
    expect_error(b"--" + BOUNDARY + b"X\r\n" + end(), 400, "unexpected bytes")
    expect_error(field("a", "1") + b"--" + BOUNDARY + b"\nfoo", 400, "unexpected bytes")


def test_too_much_padding():
    expect_error(b"--" + BOUNDARY + b" " * 300 + b"\r\n", 400, "whitespace", chunk=10)


def test_missing_content_disposition_or_name():
    body = b"--" + BOUNDARY + b"\r\nContent-Type: text/plain\r\n\r\nx\r\n" + end()
    expect_error(body, 400, "Content-Disposition")
    body = b"--" + BOUNDARY + b"\r\n\r\nx\r\n" + end()
    expect_error(body, 400, "Content-Disposition")
    body = b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; filename="a"\r\n\r\nx\r\n'
    expect_error(body + end(), 400, "name")


@pytest.mark.parametrize(
    "line",
    [
        b"No colon here",
        b"Bad Name: x",
        b": empty name",
        b"X-Bare: a\rb",
        b"X-Bare: a\nb",
        b"X-Nul: a\x00b",
    ],
)
def test_malformed_header_lines(line):
    body = (
        b"--"
        + BOUNDARY
        + b'\r\nContent-Disposition: form-data; name="a"\r\n'
        + line
        + b"\r\n\r\nx\r\n"
        + end()
    )
    expect_error(body, 400, "header")


def test_continuation_line_first():
    body = b"--" + BOUNDARY + b'\r\n folded: x\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
    expect_error(body + b"x\r\n" + end(), 400, "continuation")


@pytest.mark.parametrize("boundary", [b"", b"a" * 201, b"a\r\nb", b"a\x00", "bö"])
def test_invalid_boundaries(boundary):
    with pytest.raises(MultipartError) as info:
        MultipartParser(boundary)
    assert info.value.status == 400


def test_boundary_type_error():
    with pytest.raises(TypeError):
        MultipartParser(123)  # type: ignore[arg-type]


def test_errors_are_sticky_and_clean_up():
    parser = MultipartParser(BOUNDARY, memfile_limit=4, max_field_size=10)
    parser.feed(upload("f", "a.bin", b"x" * 100) + field("big", "y" * 5))
    first = parser.parts[0]
    assert not first.file.closed and not first.is_buffered()
    with pytest.raises(MultipartError) as info:
        parser.feed(b"y" * 20)
    assert info.value.status == 413
    assert first.file.closed
    with pytest.raises(MultipartError) as again:
        parser.feed(b"more")
    assert again.value is info.value
    with pytest.raises(MultipartError):
        parser.close()


def test_feed_after_close():
    parser = MultipartParser(BOUNDARY)
    parser.feed(end())
    parser.close()
    with pytest.raises(RuntimeError):
        parser.feed(b"x")


# --------------------------------------------------------------------------- limits


def test_max_fields():
    body = b"".join(field(f"f{i}", "v") for i in range(1000)) + end()
    assert len(parse(body)) == 1000
    body = b"".join(field(f"f{i}", "v") for i in range(1001)) + end()
    err = expect_error(body, 413, "too many multipart fields")
    assert "max_fields" in str(err)
    assert len(parse(body, max_fields=None)) == 1001
    expect_error(field("a", "1") + field("b", "2") + end(), 413, "max_fields", max_fields=1)


def test_max_field_size():
    assert parse(field("a", "x" * 10) + end(), max_field_size=10)[0].value == "x" * 10
    expect_error(field("a", "x" * 11) + end(), 413, "max_field_size", max_field_size=10)
    expect_error(field("a", "x" * 11) + end(), 413, "max_field_size", chunk=1, max_field_size=10)
    # Files are not fields.
    assert parse(upload("f", "f", b"x" * 11) + end(), max_field_size=10)[0].size == 11


def test_default_max_field_size_is_one_mib():
    parts = parse(field("a", b"x" * (1 << 20)) + end())
    assert parts[0].size == 1 << 20
    assert len(parts[0].value) == 1 << 20  # spooled, but a field is still readable
    expect_error(field("a", b"x" * ((1 << 20) + 1)) + end(), 413, "max_field_size")


def test_max_file_size():
    assert parse(upload("f", "f", b"x" * 10) + end(), max_file_size=10)[0].size == 10
    expect_error(upload("f", "f", b"x" * 11) + end(), 413, "max_file_size", max_file_size=10)
    expect_error(
        upload("f", "f", b"x" * 11) + end(), 413, "max_file_size", chunk=3, max_file_size=10
    )


def test_max_total_size():
    body = field("a", "1") + end()
    assert parse(body, max_total_size=len(body))
    expect_error(body, 413, "max_total_size", max_total_size=len(body) - 1)
    expect_error(body, 413, "max_total_size", chunk=1, max_total_size=len(body) - 1)
    # The epilogue counts too: the whole body is limited.
    expect_error(body + b"x" * 100, 413, "max_total_size", max_total_size=len(body) + 10)


def test_header_too_large():
    big = b"X-Big: " + b"a" * 9000
    body = b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="a"\r\n' + big
    expect_error(body + b"\r\n\r\nx\r\n" + end(), 413, "max_header_size")
    expect_error(body + b"\r\n\r\nx\r\n" + end(), 413, "max_header_size", chunk=1)
    # Never terminated: refused once past the limit, without waiting for more.
    parser = MultipartParser(BOUNDARY, max_header_size=100)
    parser.feed(b"--" + BOUNDARY + b"\r\n")
    with pytest.raises(MultipartError, match="max_header_size"):
        for _ in range(200):
            parser.feed(b"a")


def test_header_size_limit_is_exact():
    head = b'Content-Disposition: form-data; name="a"'
    body = b"--" + BOUNDARY + b"\r\n" + head + b"\r\n\r\nx\r\n" + end()
    assert parse(body, max_header_size=len(head))
    expect_error(body, 413, "max_header_size", max_header_size=len(head) - 1)


def test_too_many_headers():
    lines = b"".join(b"X-H%d: v\r\n" % i for i in range(15))
    head = b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="a"\r\n'
    assert parse(head + lines + b"\r\nx\r\n" + end())
    lines += b"X-H15: v\r\n"
    expect_error(head + lines + b"\r\nx\r\n" + end(), 413, "max_headers")


# --------------------------------------------------------------------------- spooling


def test_spooling_to_disk(tmp_path):
    data = os.urandom(200_000)
    body = upload("f", "big.bin", data, "application/octet-stream") + field("small", "x") + end()
    parts = parse(body, chunk=8192, spool_dir=str(tmp_path))
    big, small = parts
    assert not big.is_buffered() and small.is_buffered()
    assert not isinstance(big.file, io.BytesIO)
    assert isinstance(big.file.fileno(), int)  # a real OS-level file
    os.fstat(big.file.fileno())
    assert big.size == len(data) and big.file.read() == data
    with pytest.raises(MultipartError) as info:
        big.raw
    assert info.value.status == 413
    big.close()
    assert big.file.closed


def test_memfile_limit_boundary():
    (at,) = parse(upload("f", "f", b"x" * 16) + end(), memfile_limit=16)
    assert at.is_buffered() and at.raw == b"x" * 16
    (over,) = parse(upload("f", "f", b"x" * 17) + end(), memfile_limit=16)
    assert not over.is_buffered()
    assert over.file.read() == b"x" * 17
    over.close()


# --------------------------------------------------------------------------- linear time


def test_many_tiny_chunks_are_linear():
    data = (b"\r\n-" * 30_000)[:80_000]  # lots of partial-delimiter lookalikes
    body = upload("f", "f.bin", data) + end()
    parser = MultipartParser(BOUNDARY, memfile_limit=1 << 20)
    start = time.perf_counter()
    for i in range(len(body)):
        parser.feed(body[i : i + 1])
    (part,) = parser.close()
    assert part.file.read() == data
    assert time.perf_counter() - start < 10


def test_large_single_chunk():
    data = b"z" * (5 << 20)
    (part,) = parse(upload("f", "f", data) + end())
    assert part.size == len(data)
    part.close()


# --------------------------------------------------------------------------- fuzzing


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.integers(min_value=1, max_value=64))
def test_fuzz_random_bytes_only_raise_multipart_error(data, chunk):
    parser = MultipartParser(b"xyz", max_header_size=64, memfile_limit=32, max_fields=5)
    try:
        for i in range(0, len(data), chunk):
            parser.feed(data[i : i + chunk])
        for part in parser.close():
            try:
                part.value
            except MultipartError:
                pass
            part.close()
    except MultipartError as exc:
        assert exc.status in (400, 413)


_pieces = st.sampled_from(
    [
        b"--xyz",
        b"--xyz--",
        b"\r\n",
        b"\r",
        b"\n",
        b"-",
        b" ",
        b'Content-Disposition: form-data; name="a"',
        b'Content-Disposition: form-data; name="f"; filename="../x"',
        b"filename*=UTF-8''%E2%82%AC",
        b"Content-Type: text/plain; charset=latin1",
        b'"',
        b"\\",
        b";",
        b"abc",
        b"\xff",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_pieces, max_size=40), st.integers(min_value=1, max_value=16))
def test_fuzz_structured_bytes(pieces, chunk):
    data = b"".join(pieces)
    parser = MultipartParser(b"xyz", max_header_size=128, memfile_limit=8, max_fields=4)
    try:
        for i in range(0, len(data), chunk):
            parser.feed(data[i : i + chunk])
        parts = parser.close()
    except MultipartError as exc:
        assert exc.status in (400, 413)
        return
    # Chunking must not change the result.
    whole = MultipartParser(b"xyz", max_header_size=128, memfile_limit=8, max_fields=4)
    whole.feed(data)
    other = whole.close()
    assert [(p.name, p.filename, p.file.read()) for p in parts] == [
        (p.name, p.filename, p.file.read()) for p in other
    ]
    for p in parts + other:
        FileUpload.from_part(p).filename  # never raises
        p.close()


# --------------------------------------------------------------------------- FileUpload


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("/abs/path/file.txt", "file.txt"),
        ("..", "empty"),
        ("...", "empty"),
        (".htaccess", "htaccess"),
        ("  my  cool file .txt ", "my-cool-file-.txt"),
        ("résumé.pdf", "resume.pdf"),
        ("日本語.txt", "txt"),
        ("日本語", "empty"),
        ("a\x00b\nc\r\td.txt", "abc-d.txt"),
        ('quote"s<>|?*:.txt', "quotes.txt"),
        ("", "empty"),
        (None, "empty"),
        ("x/", "empty"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("---a---", "a"),
        ("ﬁle.txt", "file.txt"),  # ligature folded by NFKD
    ],
)
def test_filename_sanitizing(raw, safe):
    assert FileUpload(io.BytesIO(), "f", raw).filename == safe


def test_filename_max_length_keeps_extension():
    up = FileUpload(io.BytesIO(), "f", "a" * 400 + ".tar")
    assert len(up.filename) == 255 and up.filename.endswith(".tar")
    up = FileUpload(io.BytesIO(), "f", "b" * 400)
    assert up.filename == "b" * 255


def test_fileupload_attributes():
    headers = [("Content-Type", "image/png"), ("X-Custom", "1")]
    up = FileUpload(io.BytesIO(b"12345"), "avatar", "me.png", headers)
    assert up.name == "avatar" and up.raw_filename == "me.png"
    assert up.content_type == "image/png"
    assert up.headers["content-type"] == "image/png" and "CONTENT-TYPE" in up.headers
    assert up.get_header("x-custom") == "1" and up.get_header("nope", "d") == "d"
    assert up.content_length == 5  # from the file when no header
    assert FileUpload(io.BytesIO(), "a", "b", {"Content-Length": "42"}).content_length == 42
    assert FileUpload(io.BytesIO(b"abc"), "a", "b", {"Content-Length": "x"}).content_length == 3
    assert FileUpload(object(), "a", "b").content_length == -1  # type: ignore[arg-type]
    assert FileUpload(io.BytesIO(), "a", "b").content_type is None
    assert "avatar" in repr(up)
    assert list(up.headers) == ["Content-Type", "X-Custom"] and len(up.headers) == 2
    up.headers["X-New"] = "y"
    del up.headers["x-custom"]
    assert dict(up.headers) == {"Content-Type": "image/png", "X-New": "y"}


def test_save_to_directory(tmp_path):
    src = io.BytesIO(b"payload" * 1000)
    src.seek(3)
    up = FileUpload(src, "f", "../../evil name.txt")
    up.save(tmp_path, chunk_size=100)
    saved = tmp_path / "evil-name.txt"
    assert saved.read_bytes() == b"payload" * 1000
    assert src.tell() == 3  # position restored
    assert sorted(os.listdir(tmp_path)) == ["evil-name.txt"]
    with pytest.raises(IOError):
        up.save(str(tmp_path))
    assert saved.read_bytes() == b"payload" * 1000


def test_save_to_path_and_overwrite(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    up = FileUpload(io.BytesIO(b"new"), "f", "x")
    with pytest.raises(IOError):
        up.save(target)
    with pytest.raises(FileExistsError):
        up.save(str(target))
    assert target.read_bytes() == b"old"
    up.save(str(target), overwrite=True)
    assert target.read_bytes() == b"new"
    up.save(tmp_path / "fresh.bin")
    assert (tmp_path / "fresh.bin").read_bytes() == b"new"


def test_save_to_file_object():
    src = io.BytesIO(b"abcdef")
    src.read()
    out = io.BytesIO()
    FileUpload(src, "f", "x").save(out, chunk_size=1)
    assert out.getvalue() == b"abcdef"
    assert src.tell() == 6
    with pytest.raises(ValueError):
        FileUpload(src, "f", "x").save(io.BytesIO(), chunk_size=0)


def test_save_spooled_part(tmp_path):
    data = os.urandom(100_000)
    (part,) = parse(upload("f", "big.bin", data) + end(), memfile_limit=1024)
    up = FileUpload.from_part(part)
    assert up.content_type == "text/plain"
    up.save(tmp_path)
    assert (tmp_path / "big.bin").read_bytes() == data
    up.close()
    assert part.file.closed


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_parse_options_header_never_raises(text):
    main, options = parse_options_header(text)
    assert isinstance(main, str) and all(isinstance(v, str) for v in options.values())
    assert all(k == k.lower() for k in options)


_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=300)))
def test_fuzz_sanitized_filename_is_safe(raw):
    name = FileUpload(io.BytesIO(), "f", raw).filename
    assert _SAFE_NAME.fullmatch(name), name
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert name not in (".", "..")


def test_header_values_decode_as_utf8_whatever_the_charset():
    raw = 'Content-Disposition: form-data; name="f"; filename="ü.txt"\r\n\r\n'
    body = b"--" + BOUNDARY + b"\r\n" + raw.encode("utf8") + b"x\r\n" + end()
    (part,) = parse(body, charset="utf-16")
    assert part.filename == "ü.txt"
    assert part.charset == "utf-16"


def test_lf_only_line_breaks_are_rejected():
    body = (field("a", "1") + end()).replace(b"\r\n", b"\n")
    expect_error(body, 400, "unexpected bytes")


def test_cr_lf_split_exactly_at_delimiter_start():
    # The data ends with "\r" and the next chunk starts with "\n--boundary".
    data = b"abc\r"
    body = upload("f", "f", data) + end()
    cut = body.index(b"abc\r") + 4
    parser = MultipartParser(BOUNDARY)
    parser.feed(body[:cut])
    parser.feed(body[cut : cut + 1])
    parser.feed(body[cut + 1 :])
    (part,) = parser.close()
    assert part.file.read() == data
