"""Multipart uploads through a route: fields, files, FileUpload.save, limits."""

from __future__ import annotations

import pytest

from lcore import FileUpload, Lcore, request

BOUNDARY = "----lcoreboundary"


def multipart(fields=(), files=()):
    parts = []
    for name, value in fields:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, filename, ctype, data in files:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {ctype}\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


CT = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
def upload_app(tmp_path):
    app = Lcore()

    @app.post("/upload")
    def upload():
        f = request.files.get("doc")
        out = {
            "title": request.forms.title,
            "tags": request.forms.getall("tag"),
            "files": sorted(request.files.keys()),
            "post_keys": sorted(request.POST.keys()),
        }
        if f is not None:
            assert isinstance(f, FileUpload)
            out.update(
                name=f.name,
                filename=f.filename,
                raw=f.raw_filename,
                ctype=f.content_type,
                size=f.content_length,
                data=f.file.read().decode("latin1"),
            )
            f.save(str(tmp_path))
            out["saved"] = (tmp_path / f.filename).read_bytes().decode("latin1")
        return out

    @app.post("/async-upload")
    async def aupload():
        f = request.files.doc
        return {"title": request.forms.title, "size": len(f.file.read())}

    return app


def test_fields_and_file(make_client, upload_app):
    body = multipart(
        [("title", "My doc"), ("tag", "a"), ("tag", "b")],
        [("doc", "../../etc/r\u00e9sum\u00e9 final.txt", "text/plain", b"file content\r\nline2")],
    )
    r = make_client(upload_app).post("/upload", body=body, content_type=CT)
    assert r.status_code == 200
    assert r.json == {
        "title": "My doc",
        "tags": ["a", "b"],
        "files": ["doc"],
        "post_keys": ["doc", "tag", "title"],
        "name": "doc",
        "filename": "resume-final.txt",
        "raw": "../../etc/r\u00e9sum\u00e9 final.txt",
        "ctype": "text/plain",
        "size": 19,
        "data": "file content\r\nline2",
        "saved": "file content\r\nline2",
    }


def test_large_file_spooled(make_client, upload_app):
    data = bytes(range(256)) * 2000  # > MEMFILE_MAX
    body = multipart([("title", "big")], [("doc", "big.bin", "application/octet-stream", data)])
    r = make_client(upload_app).post("/upload", body=body, content_type=CT)
    assert r.json["size"] == len(data)
    assert r.json["data"].encode("latin1") == data


def test_async_handler_upload(make_client, upload_app):
    body = multipart([("title", "t")], [("doc", "x.txt", "text/plain", b"12345")])
    assert make_client(upload_app).post("/async-upload", body=body, content_type=CT).json == {
        "title": "t",
        "size": 5,
    }


def test_save_refuses_overwrite(tmp_path):
    import io

    f = FileUpload(io.BytesIO(b"abc"), "doc", "a.txt")
    f.save(str(tmp_path))
    with pytest.raises(FileExistsError):
        f.save(str(tmp_path))
    f.save(str(tmp_path), overwrite=True)
    out = io.BytesIO()
    f.save(out)
    assert out.getvalue() == b"abc"


def test_malformed_multipart_400(make_client, upload_app):
    c = make_client(upload_app)
    r = c.post("/upload", body=b"--nope\r\ngarbage", content_type=CT)
    assert r.status_code == 400
    r = c.post("/upload", body=b"x", content_type="multipart/form-data")
    assert r.status_code == 400


def test_too_many_multipart_fields_400(make_client, upload_app):
    body = multipart([(f"f{i}", "v") for i in range(1001)])
    assert make_client(upload_app).post("/upload", body=body, content_type=CT).status_code == 400


def test_multipart_obeys_body_limit(make_client, upload_app):
    upload_app.config["request.max_body"] = 1000
    body = multipart([("title", "x")], [("doc", "a.bin", "application/octet-stream", b"x" * 2000)])
    assert make_client(upload_app).post("/upload", body=body, content_type=CT).status_code == 413


def test_several_files_one_field(make_client):
    app = Lcore()

    @app.post("/many")
    def many():
        return [(f.filename, f.file.read().decode()) for f in request.files.getall("docs")]

    body = multipart(
        [], [("docs", "a.txt", "text/plain", b"A"), ("docs", "b.txt", "text/plain", b"B")]
    )
    assert make_client(app).post("/many", body=body, content_type=CT).json == [
        ["a.txt", "A"],
        ["b.txt", "B"],
    ]
