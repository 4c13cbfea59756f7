"""Fixtures for the embedded server tests."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator

import pytest
import server_support

#: The HTTP/1.1 drivers every HTTP/1.1 test runs against (httptools when installed).
H1_DRIVERS = ["h11"] + (["httptools"] if server_support.HAVE_HTTPTOOLS else [])


@pytest.fixture(scope="module", params=H1_DRIVERS)
def h1_driver(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a module's tests once per HTTP/1.1 driver (``Config.http``).

    Servers started by ``server_support`` (and in-memory connections) use it.
    """
    previous = server_support.H1_DRIVER
    server_support.H1_DRIVER = request.param
    try:
        yield request.param
    finally:
        server_support.H1_DRIVER = previous


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1/localhost and its key (PEM paths)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    certfile = directory / "cert.pem"
    keyfile = directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(certfile), str(keyfile)
