#!/usr/bin/env python3
"""A thin fault-injecting proxy in front of moto_server, for what moto lacks.

Everything is forwarded to moto unchanged, except what the control endpoint
asked for:

  POST /__proxy/config   JSON, merged into the current settings:
    {"capacity_errors": [{"instance_type": "c5.large",
                          "capacity_type": "spot" | "on-demand" | "any",
                          "code": "InsufficientInstanceCapacity"}],
     "throttle": {"CreateFleet": 2},        # the next 2 calls get throttled
     "ssm_parameters": {"/aws/service/eks/optimized-ami/...": "ami-123"},
     "delay": {"CreateFleet": {"ms": 5000, "count": 1}},  # hold n calls
                                                          # before forwarding
     "errors": {"DescribeRegions": {"code": "ExpiredToken", "status": 400,
                                    "count": 1}}}   # any error, n times
  POST /__proxy/reset    back to no injection, counters cleared
  GET  /__proxy/stats    {"requests": {"CreateFleet": 3}, "injected": {...}}

Capacity errors follow EC2's CreateFleet type=instant behaviour: overrides
for an unavailable type are dropped from the request and reported in the
answer's errorSet; when none is left no instance is launched and the answer
carries only the errorSet.  RunInstances of such a type fails with the code.
Throttling answers as EC2 (HTTP 503 RequestLimitExceeded, Query protocol) or
as JSON services do (HTTP 400 ThrottlingException).  SSM GetParameter for a
configured name (the EKS optimized AMI parameters, which moto lacks and
whose /aws/ prefix it refuses to store) is answered here.

Standard library only; runs with the moto venv's python.
"""
import argparse
import http.client
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse
import uuid

import xml.etree.ElementTree as ET

LOCK = threading.Lock()
# Actions moto answers unpaginated, and the element holding their items.
PAGINATED = {"DescribeInstanceTypes": "instanceTypeSet",
             "DescribeInstanceTypeOfferings": "instanceTypeOfferingSet"}
STATE = {}


def reset_state():
    STATE.clear()
    STATE.update({"capacity_errors": [], "throttle": {}, "ssm_parameters": {},
                  "errors": {}, "delay": {}, "requests": {}, "injected": {}})


reset_state()


def count(kind, op):
    STATE[kind][op] = STATE[kind].get(op, 0) + 1


def ec2_error(code, message):
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f'<Code>{code}</Code><Message>{message}</Message></Error></Errors>'
            f'<RequestID>{uuid.uuid4()}</RequestID></Response>')
    return body.encode()


def unavailable(instance_type, capacity_type):
    for rule in STATE["capacity_errors"]:
        if rule.get("instance_type") != instance_type:
            continue
        ct = rule.get("capacity_type", "any")
        if ct in ("any", capacity_type):
            return rule.get("code", "InsufficientInstanceCapacity")
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None

    def log_message(self, fmt, *args):
        sys.stderr.write("proxy: " + (fmt % args) + "\n")

    # ------------------------------------------------------------ helpers
    def reply(self, status, body, ctype="text/xml", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def forward(self, body):
        u = urllib.parse.urlsplit(self.upstream)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("content-length", "connection",
                                        "transfer-encoding")}
        headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        out_headers = [(k, v) for k, v in resp.getheaders()
                       if k.lower() not in ("content-length", "connection",
                                            "transfer-encoding", "date",
                                            "server")]
        conn.close()
        return resp.status, out_headers, data

    def send_upstream(self, status, headers, data):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # ------------------------------------------------------------ control
    def control(self, body):
        with LOCK:
            if self.path == "/__proxy/stats":
                out = {"requests": STATE["requests"],
                       "injected": STATE["injected"]}
                return self.reply(200, json.dumps(out).encode(),
                                  "application/json")
            if self.path == "/__proxy/reset" and self.command == "POST":
                reset_state()
                return self.reply(200, b"{}", "application/json")
            if self.path == "/__proxy/config" and self.command == "POST":
                try:
                    cfg = json.loads(body or b"{}")
                except ValueError as e:
                    return self.reply(400, str(e).encode(), "text/plain")
                if "capacity_errors" in cfg:
                    STATE["capacity_errors"] = list(cfg["capacity_errors"])
                if "throttle" in cfg:
                    STATE["throttle"].update(cfg["throttle"])
                if "errors" in cfg:
                    STATE["errors"].update(cfg["errors"])
                if "delay" in cfg:
                    STATE["delay"].update(cfg["delay"])
                if "ssm_parameters" in cfg:
                    STATE["ssm_parameters"].update(cfg["ssm_parameters"])
                return self.reply(200, b"{}", "application/json")
        return self.reply(404, b"unknown control path", "text/plain")

    # ------------------------------------------------------------ requests
    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/__proxy/"):
            return self.control(body)
        target = self.headers.get("X-Amz-Target")
        form = {}
        if target:
            op = target.split(".")[-1]
        else:
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                               keep_blank_values=True))
            op = form.get("Action", self.command + " " + self.path)
        with LOCK:
            count("requests", op)
            left = STATE["throttle"].get(op, 0)
            if left > 0:
                STATE["throttle"][op] = left - 1
                count("injected", "throttle:" + op)
        # A held call reaches moto late: a client that dies meanwhile (the
        # e2e's kill -9 mid-launch) leaves what moto then creates behind.
        with LOCK:
            hold = STATE["delay"].get(op)
            if hold and hold.get("count", 1) > 0:
                hold["count"] = hold.get("count", 1) - 1
                count("injected", "delay:" + op)
                pause = hold.get("ms", 0) / 1000.0
            else:
                pause = 0
        if pause:
            time.sleep(pause)
        with LOCK:
            inj = STATE["errors"].get(op)
            if inj and inj.get("count", 1) > 0:
                inj["count"] = inj.get("count", 1) - 1
                count("injected", "error:" + op)
            else:
                inj = None
        if inj:
            if target:
                err = {"__type": inj["code"], "message": "injected"}
                return self.reply(inj.get("status", 400), json.dumps(err).encode(),
                                  "application/x-amz-json-1.0")
            return self.reply(inj.get("status", 400),
                              ec2_error(inj["code"], "injected by the test proxy"))
        if left > 0:
            if target:
                err = {"__type": "ThrottlingException",
                       "message": "Rate exceeded"}
                return self.reply(400, json.dumps(err).encode(),
                                  "application/x-amz-json-1.0")
            return self.reply(503, ec2_error("RequestLimitExceeded",
                                             "Request limit exceeded."))
        if target and op in ("GetParameter", "GetParameters"):
            answered = self.ssm(op, body)
            if answered:
                return None
        if op == "CreateFleet":
            return self.create_fleet(form, body)
        if op in PAGINATED and form.get("MaxResults"):
            return self.paginate(op, form)
        if op == "RunInstances":
            code = unavailable(form.get("InstanceType"), "on-demand")
            if code:
                with LOCK:
                    count("injected", "capacity:RunInstances")
                return self.reply(500, ec2_error(
                    code, "We currently do not have sufficient capacity."))
        return self.send_upstream(*self.forward(body))

    def paginate(self, op, form):
        """moto answers these in one page: serve MaxResults-sized pages with
        a NextToken (the offset), as EC2 does."""
        try:
            size = max(1, int(form.pop("MaxResults")))
            start = int(form.pop("NextToken", "0") or 0)
        except ValueError:
            return self.reply(400, ec2_error("InvalidParameterValue",
                                             "bad MaxResults or NextToken"))
        status, headers, data = self.forward(urllib.parse.urlencode(form).encode())
        if status != 200:
            return self.send_upstream(status, headers, data)
        root = ET.fromstring(data)
        ns = root.tag[1:root.tag.index("}")] if root.tag.startswith("{") else ""
        ET.register_namespace("", ns)
        q = "{%s}" % ns if ns else ""
        items_parent = root.find(q + PAGINATED[op])
        items = list(items_parent) if items_parent is not None else []
        for it in items:
            items_parent.remove(it)
        for it in items[start:start + size]:
            items_parent.append(it)
        if start + size < len(items):
            tok = ET.SubElement(root, q + "nextToken")
            tok.text = str(start + size)
        with LOCK:
            count("injected", "page:" + op)
        return self.send_upstream(status, headers, ET.tostring(root))

    def ssm(self, op, body):
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return False
        with LOCK:
            params = dict(STATE["ssm_parameters"])
        names = [req.get("Name")] if op == "GetParameter" else req.get("Names", [])
        if not names or not all(n in params for n in names):
            return False

        def param(n):
            return {"Name": n, "Type": "String", "Value": params[n],
                    "Version": 1, "DataType": "text",
                    "LastModifiedDate": time.time(),
                    "ARN": "arn:aws:ssm:us-east-1::parameter" + n}
        with LOCK:
            count("injected", "ssm:" + op)
        if op == "GetParameter":
            out = {"Parameter": param(names[0])}
        else:
            out = {"Parameters": [param(n) for n in names],
                   "InvalidParameters": []}
        self.reply(200, json.dumps(out).encode(), "application/x-amz-json-1.1")
        return True

    def create_fleet(self, form, raw):
        ctype = form.get("TargetCapacitySpecification.DefaultTargetCapacityType",
                         "on-demand")
        kept, dropped = [], []
        pat = re.compile(r"^LaunchTemplateConfigs\.(\d+)\.Overrides\.(\d+)\.(.+)$")
        overrides = {}
        rest = {}
        for k, v in form.items():
            m = pat.match(k)
            if m:
                overrides.setdefault((int(m.group(1)), int(m.group(2))), {})[m.group(3)] = v
            else:
                rest[k] = v
        for key in sorted(overrides):
            o = overrides[key]
            code = unavailable(o.get("InstanceType"), ctype)
            (dropped if code else kept).append((key, o, code))
        if not dropped:
            return self.send_upstream(*self.forward(raw))
        with LOCK:
            count("injected", "capacity:CreateFleet")
        lt_id = form.get("LaunchTemplateConfigs.1.LaunchTemplateSpecification.LaunchTemplateId", "")
        lt_ver = form.get("LaunchTemplateConfigs.1.LaunchTemplateSpecification.Version", "")
        errors = "".join(
            "<item><errorCode>{c}</errorCode><errorMessage>We currently do not "
            "have sufficient {t} capacity in the Availability Zone you "
            "requested.</errorMessage><lifecycle>{l}</lifecycle>"
            "<launchTemplateAndOverrides><launchTemplateSpecification>"
            "<launchTemplateId>{i}</launchTemplateId><version>{v}</version>"
            "</launchTemplateSpecification><overrides><instanceType>{t}"
            "</instanceType><subnetId>{s}</subnetId><availabilityZone>{z}"
            "</availabilityZone></overrides></launchTemplateAndOverrides>"
            "</item>".format(c=code, t=o.get("InstanceType", ""), l=ctype,
                             i=lt_id, v=lt_ver, s=o.get("SubnetId", ""),
                             z=o.get("AvailabilityZone", ""))
            for _, o, code in dropped)
        if not kept:
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<CreateFleetResponse '
                    'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
                    f'<requestId>{uuid.uuid4()}</requestId>'
                    f'<fleetId>fleet-{uuid.uuid4()}</fleetId>'
                    f'<errorSet>{errors}</errorSet><fleetInstanceSet/>'
                    '</CreateFleetResponse>')
            return self.reply(200, body.encode())
        # Renumber the kept overrides per launch template config.
        new = dict(rest)
        per_cfg = {}
        for (cfg, _), o, _ in kept:
            per_cfg[cfg] = per_cfg.get(cfg, 0) + 1
            for k, v in o.items():
                new[f"LaunchTemplateConfigs.{cfg}.Overrides.{per_cfg[cfg]}.{k}"] = v
        status, headers, data = self.forward(urllib.parse.urlencode(new).encode())
        if status == 200:
            text = data.decode()
            if "<errorSet/>" in text:
                text = text.replace("<errorSet/>", f"<errorSet>{errors}</errorSet>", 1)
            elif "<errorSet>" in text:
                text = text.replace("<errorSet>", f"<errorSet>{errors}", 1)
            else:
                text = text.replace("</CreateFleetResponse>",
                                    f"<errorSet>{errors}</errorSet></CreateFleetResponse>", 1)
            data = text.encode()
        return self.send_upstream(status, headers, data)

    do_GET = handle_any
    do_POST = handle_any
    do_PUT = handle_any
    do_DELETE = handle_any
    do_HEAD = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    args = ap.parse_args()
    Handler.upstream = args.upstream
    srv = http.server.ThreadingHTTPServer((args.listen, args.port), Handler)
    srv.daemon_threads = True
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    sys.stderr.write(f"proxy: 127.0.0.1:{port} -> {args.upstream}\n")
    srv.serve_forever()


if __name__ == "__main__":
    main()
