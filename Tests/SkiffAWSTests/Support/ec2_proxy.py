#!/usr/bin/env python3
"""Recording, fault-injecting HTTP proxy in front of moto_server, for skiff's EC2 tests.

Usage: ec2_proxy.py UPSTREAM_PORT PORT_FILE [UPSTREAM_PID]
Listens on 127.0.0.1 on a free port and writes that port to PORT_FILE.
Every EC2 request is logged (action, form parameters without signatures, status). Control endpoints:
  GET  /_skiff/log            -> JSON list of {"action", "params", "status", "injected"}
  POST /_skiff/reset-log      -> clears the log
  POST /_skiff/faults         -> JSON list of {"action": NAME or "*", "status": N, "code": C, "times": K,
                                 "body": optional raw body (e.g. HTML or a recorded answer),
                                 "skip": matching requests to let through first}; each matching request then
                                 consumes one time
Exits on SIGTERM, or when its parent process goes away; in that case it also stops UPSTREAM_PID (the moto_server
the parent started), so a crashed test run leaves nothing behind.
"""
import http.client
import json
import os
import time
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = int(sys.argv[1])
LOCK = threading.Lock()
LOG = []
FAULTS = []
COUNTER = [0]


def take_fault(action):
    with LOCK:
        for fault in FAULTS:
            if fault.get("times", 1) > 0 and fault.get("action", "*") in ("*", action):
                if fault.get("skip", 0) > 0:
                    fault["skip"] -= 1
                    continue
                fault["times"] = fault.get("times", 1) - 1
                return dict(fault)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="text/xml"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        if self.path == "/_skiff/log":
            with LOCK:
                self.reply(200, json.dumps(LOG), "application/json")
            return
        self.forward(b"")

    def do_POST(self):
        body = self.body()
        if self.path == "/_skiff/reset-log":
            with LOCK:
                LOG.clear()
            self.reply(200, "{}", "application/json")
            return
        if self.path == "/_skiff/faults":
            with LOCK:
                FAULTS.extend(json.loads(body or b"[]"))
            self.reply(200, "{}", "application/json")
            return
        self.forward(body)

    def forward(self, body):
        params = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"),
                                                            keep_blank_values=True).items()}
        action = params.pop("Action", "")
        params.pop("Version", None)
        fault = take_fault(action) if action else None
        entry = {"action": action, "params": params, "status": 0, "injected": bool(fault)}
        if fault:
            with LOCK:
                COUNTER[0] += 1
                n = COUNTER[0]
            payload = fault.get("body") or (
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>%s</Code>"
                "<Message>injected by the test proxy</Message></Error></Errors><RequestID>injected-%d</RequestID>"
                "</Response>" % (fault.get("code", "InternalError"), n))
            entry["status"] = fault.get("status", 500)
            with LOCK:
                LOG.append(entry)
            self.reply(fault.get("status", 500), payload,
                       "text/html" if fault.get("body") else "text/xml")
            return
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in ("content-length", "connection"):
                conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        entry["status"] = response.status
        if action:
            with LOCK:
                LOG.append(entry)
        self.reply(response.status, data, response.getheader("Content-Type") or "text/xml")
        conn.close()


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))
    parent = os.getppid()

    upstream_pid = int(sys.argv[3]) if len(sys.argv) > 3 else 0

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(1)
        if upstream_pid:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.kill(upstream_pid, sig)
                except ProcessLookupError:
                    break
                time.sleep(0.5)
        server.shutdown()

    threading.Thread(target=watch_parent, daemon=True).start()
    try:
        server.serve_forever()
    except SystemExit:
        pass


if __name__ == "__main__":
    main()
