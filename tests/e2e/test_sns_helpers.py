"""Shared pieces of the SNS e2e tests (no tests here): topics, queues, a loopback HTTP endpoint."""

from __future__ import annotations

import base64
import json
import threading
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.server import wait_until

ACCOUNT = "000000000000"
REGION = "us-east-1"
# AWS's retry delays (up to 20 s) shortened 100 times; Lambda retries short too.
FAST_ENV = {"LAMBDALITE_SNS_RETRY_SCALE": "0.01", "LAMBDA_RETRY_BASE_DELAY": "0.2",
            "LAMBDALITE_DELIVERY_RETRY_BASE_DELAY": "0.1", "LAMBDALITE_DELIVERY_ATTEMPTS": "3"}
SIGNED_FIELDS = ("Message", "MessageId", "Subject", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def make_queue(sqs: Any, name: str | None = None) -> tuple[str, str]:
    """(url, arn) of a new queue."""
    name = name or unique("q")
    return str(sqs.create_queue(QueueName=name)["QueueUrl"]), queue_arn(name)


def make_topic(sns: Any, name: str | None = None) -> str:
    return str(sns.create_topic(Name=name or unique("t"))["TopicArn"])


def subscribe_queue(sns: Any, topic: str, queue: str, **attributes: str) -> str:
    return str(sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes=attributes,
                             ReturnSubscriptionArn=True)["SubscriptionArn"])


def receive(sqs: Any, url: str, expected: int, timeout_s: float = 30) -> list[dict[str, Any]]:
    """Receive (and delete) until `expected` messages arrived, then one more poll for strays."""
    got: list[dict[str, Any]] = []

    def poll(wait_s: int) -> bool:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s,
                                     MessageAttributeNames=["All"])
        for message in answer.get("Messages", []):
            got.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return False

    wait_until(lambda: poll(1) or len(got) >= expected, timeout_s=timeout_s, what=f"{expected} messages on {url}")
    poll(1)
    return got


def bodies(messages: list[dict[str, Any]]) -> list[Any]:
    return [json.loads(m["Body"]) for m in messages]


def verify_signature(message: dict[str, Any], cert_url_key: str = "SigningCertURL") -> None:
    """Check `Signature` against the certificate served at the message's certificate URL (SignatureVersion
    1: SHA1withRSA, 2: SHA256withRSA)."""
    with urllib.request.urlopen(message[cert_url_key], timeout=5) as response:
        cert = x509.load_pem_x509_certificate(response.read())
    canonical = "".join(f"{name}\n{message[name]}\n" for name in SIGNED_FIELDS
                        if message.get(name) is not None)
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    algorithm = hashes.SHA256() if message["SignatureVersion"] == "2" else hashes.SHA1()
    key.verify(base64.b64decode(message["Signature"]), canonical.encode(), padding.PKCS1v15(), algorithm)


class Endpoint:
    """A loopback HTTP endpoint recording every POST; answers the statuses queued in `answers` first."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with endpoint._lock:
                    endpoint.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    status = endpoint.answers.pop(0) if endpoint.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def of_type(self, kind: str) -> list[tuple[dict[str, str], bytes]]:
        with self._lock:
            return [r for r in self.requests if r[0].get("x-amz-sns-message-type") == kind]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
