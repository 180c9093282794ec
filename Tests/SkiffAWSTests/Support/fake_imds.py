#!/usr/bin/env python3
"""A small IMDSv2-only instance metadata service on 127.0.0.1, for skiff's credential-chain tests.

Usage: fake_imds.py PORT_FILE ROLE ACCESS_KEY SECRET_KEY [EXPIRATION]
Listens on a free loopback port and writes it to PORT_FILE.
  PUT /latest/api/token (X-aws-ec2-metadata-token-ttl-seconds required)     -> a token
  GET /latest/meta-data/iam/security-credentials/       (token required)     -> ROLE
  GET /latest/meta-data/iam/security-credentials/ROLE   (token required)     -> the credentials JSON
  GET /_log                                                                   -> JSON list of "METHOD PATH TOKEN?"
A GET without the token gets 401, as IMDS does when http_tokens is required.
Exits on SIGTERM or when its parent goes away.
"""
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, ROLE, KEY, SECRET = sys.argv[1:5]
EXPIRATION = sys.argv[5] if len(sys.argv) > 5 else "2099-01-01T00:00:00Z"
TOKEN = "skiff-fake-imds-token"
LOG = []
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self):
        with LOCK:
            token = "token" if self.headers.get("X-aws-ec2-metadata-token") == TOKEN else "no-token"
            LOG.append("%s %s %s" % (self.command, self.path, token))

    def do_PUT(self):
        self.record()
        if self.path != "/latest/api/token" or not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self.reply(400, "bad token request")
            return
        self.reply(200, TOKEN)

    def do_GET(self):
        if self.path == "/_log":
            with LOCK:
                self.reply(200, json.dumps(LOG), "application/json")
            return
        self.record()
        if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            self.reply(401, "")
            return
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            self.reply(200, ROLE + "\n")
        elif self.path == base + ROLE:
            self.reply(200, json.dumps({
                "Code": "Success", "LastUpdated": "2026-01-01T00:00:00Z", "Type": "AWS-HMAC",
                "AccessKeyId": KEY, "SecretAccessKey": SECRET, "Token": "fake-session-token",
                "Expiration": EXPIRATION}), "application/json")
        else:
            self.reply(404, "")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(PORT_FILE + ".tmp", PORT_FILE)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(1)
        server.shutdown()

    threading.Thread(target=watch_parent, daemon=True).start()
    try:
        server.serve_forever()
    except SystemExit:
        pass


if __name__ == "__main__":
    main()
