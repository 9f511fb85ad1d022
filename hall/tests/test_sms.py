"""The SMS backends: file, HTTP gateway (a local receiver stands in for the gateway), and the https rule."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from hall.sms import SmsError, sms_send


def test_file_backend_appends_one_json_line_per_message(settings, tmp_path):
    settings.HALL_SMS_BACKEND = "hall.sms.FileBackend"
    settings.HALL_SMS_FILE_DIR = str(tmp_path)
    sms_send(phone="13800000009", text="验证码 123456")
    sms_send(phone="13800000009", text="第二条")
    lines = (tmp_path / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["验证码 123456", "第二条"]


class _Gateway(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Gateway.received.append((self.headers["Authorization"], json.loads(body)))
        self.send_response(_Gateway.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway(settings):
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.HALL_SMS_BACKEND = "hall.sms.HttpGatewayBackend"
    settings.HALL_SMS_GATEWAY_URL = f"http://127.0.0.1:{server.server_port}/send"
    settings.HALL_SMS_GATEWAY_TOKEN = "t0ken"
    _Gateway.received = []
    yield _Gateway
    server.shutdown()


def test_http_gateway_posts_json_with_the_token(gateway, settings):
    settings.DEBUG = True  # plain http only in development
    sms_send(phone="13800000009", text="验证码 654321")
    assert gateway.received == [("Bearer t0ken", {"phone": "13800000009", "text": "验证码 654321"})]
    gateway.status = 500
    with pytest.raises(SmsError):
        sms_send(phone="13800000009", text="x")
    gateway.status = 200


def test_http_gateway_must_be_https_in_production(gateway, settings):
    settings.DEBUG = False
    with pytest.raises(SmsError):
        sms_send(phone="13800000009", text="x")
    assert gateway.received == []
