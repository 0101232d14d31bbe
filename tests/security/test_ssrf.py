"""The fetch boundary (a `blob_url` comes from a client): with INVOICEFLOW_FETCH_ALLOWED_HOSTS=*
every spelling of loopback, private, link-local and metadata addresses, credentials in the URL,
other schemes and redirects are refused with a coded error, and nothing is requested.

The HTTP client here is a recorder: a URL that got past the checks shows up in `requests`
instead of going anywhere, so no test sends traffic off this machine whatever the code does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from contracts import ErrorCode
from services.egress.hosts import is_public_address
from services.extractor.fetch import FetchPolicy, fetch_document
from services.worker.errors import PermanentError

ANY_HOST = FetchPolicy(
    public_url="http://gateway.test", allowed_hosts=("*",), max_bytes=1000, timeout_seconds=5
)

LOOPBACK = [
    "http://127.0.0.1/doc.pdf",
    "http://127.8.9.10/doc.pdf",
    "http://localhost/doc.pdf",
    "http://LOCALHOST./doc.pdf",
    "http://2130706433/doc.pdf",  # decimal
    "http://0177.0.0.1/doc.pdf",  # octal
    "http://0x7f000001/doc.pdf",  # hex
    "http://0x7f.0.0.1/doc.pdf",
    "http://127.1/doc.pdf",  # short form
    "http://127.0.0.1.:8000/doc.pdf",  # trailing dot
    "http://[::1]/doc.pdf",
    "http://[0:0:0:0:0:0:0:1]/doc.pdf",
    "http://[::ffff:127.0.0.1]/doc.pdf",  # IPv4-mapped
    "http://[::ffff:7f00:1]/doc.pdf",
    "http://[::7f00:1]/doc.pdf",  # IPv4-compatible
    "http://[::ffff:0:7f00:1]/doc.pdf",  # IPv4-translated
    "http://[64:ff9b::7f00:1]/doc.pdf",  # NAT64
    "http://[64:ff9b:1::7f00:1]/doc.pdf",  # local-use NAT64
    "http://[2002:7f00:1::1]/doc.pdf",  # 6to4 of 127.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/doc.pdf",  # Teredo
    "http://0.0.0.0/doc.pdf",
    "http://0/doc.pdf",
    "http://[::]/doc.pdf",
    "http://./doc.pdf",
]
PRIVATE = [
    "http://10.0.0.1/doc.pdf",
    "http://172.16.0.1/doc.pdf",
    "http://172.31.255.255/doc.pdf",
    "http://192.168.1.1/doc.pdf",
    "http://100.64.0.1/doc.pdf",  # carrier-grade NAT
    "http://198.18.0.1/doc.pdf",  # benchmarking
    "http://[fc00::1]/doc.pdf",
    "http://[fd12:3456::1]/doc.pdf",
    "http://[::ffff:10.0.0.1]/doc.pdf",
    "http://[::ffff:192.168.0.1]/doc.pdf",
    "http://[64:ff9b::a00:1]/doc.pdf",
    "http://[2002:c0a8:1::1]/doc.pdf",  # 6to4 of 192.168.0.1
    "http://224.0.0.1/doc.pdf",  # multicast
    "http://[ff02::1]/doc.pdf",
    "http://255.255.255.255/doc.pdf",
]
LINK_LOCAL_AND_METADATA = [
    "http://169.254.1.1/doc.pdf",
    "http://169.254.169.254/latest/meta-data/",  # AWS, GCP, Azure metadata
    "http://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6
    "http://[fe80::1]/doc.pdf",
    "http://[::ffff:169.254.169.254]/latest/",
    "http://[::a9fe:a9fe]/latest/",
    "http://[64:ff9b::a9fe:a9fe]/latest/",
    "http://2852039166/latest/",  # 169.254.169.254 in decimal
]
TRICKS = [
    "http://public@127.0.0.1/doc.pdf",
    "http://docs.example.com@127.0.0.1/doc.pdf",
    "http://docs.example.com:80@169.254.169.254/",
    "http://user:pass@docs.example.com/doc.pdf",  # credentials: refused whatever the host
    "http://127.0.0.1#@docs.example.com/doc.pdf",
    "http://127.0.0.1/doc.pdf?@docs.example.com",
    "http://127.0.0.1\\@docs.example.com/doc.pdf",
]
SCHEMES = [
    "file:///etc/passwd",
    "file://localhost/etc/passwd",
    "ftp://docs.example.com/doc.pdf",
    "gopher://127.0.0.1:6379/_INFO",
    "dict://127.0.0.1:11211/stats",
    "data:application/pdf;base64,JVBERi0=",
    "javascript:alert(1)",
    "ws://docs.example.com/doc.pdf",
    "//docs.example.com/doc.pdf",
    "/blobs/../../etc/passwd",
    "not a url",
    "",
]


class Recorder:
    """An HTTP client transport that answers everything itself and remembers what it was asked."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status
        self.headers = headers or {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = httpx.ByteStream(b"%PDF-1.4 x")
        return httpx.Response(self.status, headers=self.headers, stream=body)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(recorder: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
        yield http


async def no_blob(blob_id: str, max_bytes: int) -> bytes | None:
    raise AssertionError("the blob store must not be used for this URL")


async def refusal(url: str, client: httpx.AsyncClient, policy: FetchPolicy = ANY_HOST) -> str:
    with pytest.raises(PermanentError) as refused:
        await fetch_document(url, policy=policy, read_blob=no_blob, client=client)
    assert refused.value.message and "Error" not in refused.value.message
    return refused.value.code


@pytest.mark.parametrize("url", LOOPBACK + PRIVATE + LINK_LOCAL_AND_METADATA + TRICKS + SCHEMES)
async def test_every_internal_target_is_refused_and_not_requested(
    url: str, client: httpx.AsyncClient, recorder: Recorder
) -> None:
    assert await refusal(url, client) == ErrorCode.BLOB_URL_FORBIDDEN
    assert recorder.requests == []


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1/doc.pdf",
        "http://[::ffff:127.0.0.1]/doc.pdf",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/",
        "file:///etc/passwd",
    ],
)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_to_an_internal_target_is_not_followed(location: str, status: int) -> None:
    recorder = Recorder(status, {"Location": location})
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        # A public literal: nothing to resolve, and the recorder answers for it.
        code = await refusal("http://93.184.216.34/doc.pdf", client)

    assert code == ErrorCode.FETCH_FAILED
    assert [str(request.url) for request in recorder.requests] == ["http://93.184.216.34/doc.pdf"]


async def test_a_public_address_in_an_ipv6_spelling_is_still_fetched(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    data = await fetch_document(
        "http://[::ffff:93.184.216.34]/doc.pdf", policy=ANY_HOST, read_blob=no_blob, client=client
    )

    assert data.startswith(b"%PDF")
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("::ffff:127.0.0.1", False),
        ("::7f00:1", False),
        ("::ffff:0:7f00:1", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b:1::1", False),
        ("2002:7f00:1::1", False),
        ("2002:a9fe:a9fe::1", False),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),
        ("fd00:ec2::254", False),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),
        ("2606:4700:4700::1111", True),
        ("8.8.8.8", True),
    ],
)
def test_embedded_ipv4_addresses_are_judged_as_themselves(address: str, public: bool) -> None:
    assert is_public_address(address) is public
