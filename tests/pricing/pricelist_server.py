#!/usr/bin/env python3
"""A small AWS Price List API (GetProducts) server for the pricing tests.

moto has no Pricing API, so the tests talk to this instead.  It speaks the
real wire protocol: POST / with awsJson1.1 (Content-Type
application/x-amz-json-1.1, X-Amz-Target AWSPriceListService.GetProducts),
TERM_MATCH filters, MaxResults and opaque NextToken pagination, and a
PriceList whose entries are JSON documents serialised as strings, in the
format AWS publishes (product / terms.OnDemand / priceDimensions /
pricePerUnit.USD).  Errors come back as AWS sends them: a JSON body with
"__type" and "message" and the matching HTTP status.

Products are built from a snapshot (configs/pricing/aws-snapshot.json) for
one region.  Every instance type is listed as AWS lists it (shared tenancy
"Compute Instance", or dedicated "Compute Instance (bare metal)" for metal
types) at its snapshot price times --price-factor, next to decoys a wrong
filter would let through at other prices (Windows, SQL Server, reserved
capacity, dedicated tenancy, another region, a Reserved term).

    pricelist_server.py --snapshot FILE [--region R] [--page-size N]
                        [--price-factor F]

prints "PORT=<n>" once listening on 127.0.0.1.  Test controls (not AWS):
  GET  /__expected   {"<type>": price, ...} what a correct client reads
  GET  /__stats      request counts, malformed entries served, tokens
  POST /__control    {"fault": "none" | "500" | "throttle" | "garbage" |
                      "auth", "fault_after": N (succeed N GetProducts calls
                      first), "malformed": N (add N malformed entries to
                      the first page of each query)}
"""
import argparse
import base64
import hashlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET = "AWSPriceListService.GetProducts"
CONTENT_TYPE = "application/x-amz-json-1.1"
OTHER_REGION = "eu-west-1"


def sku_of(*parts):
    return hashlib.sha1("/".join(parts).encode()).hexdigest()[:16].upper()


def product(region, itype, price, family, tenancy, os_="Linux", sw="NA",
            capstatus="Used", market="OnDemand", term="OnDemand"):
    """One PriceList entry, as AWS serves it (before serialisation)."""
    sku = sku_of(region, itype, family, tenancy, os_, sw, capstatus, term)
    code = "JRTCKXETXF" if term == "OnDemand" else "38NPMPTW36"
    rate = sku + "." + code + ".6YS6EN2CT7"
    return {
        "product": {
            "productFamily": family,
            "attributes": {
                "servicecode": "AmazonEC2", "regionCode": region,
                "location": "US East (N. Virginia)", "locationType": "AWS Region",
                "instanceType": itype, "instanceFamily": "General purpose",
                "currentGeneration": "Yes", "tenancy": tenancy,
                "operatingSystem": os_, "preInstalledSw": sw,
                "capacitystatus": capstatus, "marketoption": market,
                "licenseModel": "No License required",
                "usagetype": "BoxUsage:" + itype, "operation": "RunInstances",
                "servicename": "Amazon Elastic Compute Cloud",
            },
            "sku": sku,
        },
        "serviceCode": "AmazonEC2",
        "terms": {term: {sku + "." + code: {
            "priceDimensions": {rate: {
                "unit": "Hrs", "endRange": "Inf", "beginRange": "0",
                "description": "$%.4f per %s %s %s Instance Hour" % (price, term, os_, itype),
                "appliesTo": [], "rateCode": rate,
                "pricePerUnit": {"USD": "%.10f" % price},
            }},
            "sku": sku, "effectiveDate": "2026-07-01T00:00:00Z",
            "offerTermCode": code, "termAttributes": {},
        }}},
        "version": "20260720000000", "publicationDate": "2026-07-20T00:00:00Z",
    }


def is_metal(itype):
    return itype.split(".", 1)[1].startswith("metal")


def build(snapshot, region, factor):
    prices = snapshot["regions"][region]["on-demand"]
    products, expected = [], {}
    for itype, base in sorted(prices.items()):
        price = round(base * factor, 6)
        if is_metal(itype):
            fam, ten = "Compute Instance (bare metal)", "Dedicated"
        else:
            fam, ten = "Compute Instance", "Shared"
        products.append(product(region, itype, price, fam, ten))
        expected[itype] = price
        products += [
            product(region, itype, price * 4, fam, ten, os_="Windows"),
            product(region, itype, price * 5, fam, ten, sw="SQL Std"),
            product(region, itype, price * 0.5, fam, ten,
                    capstatus="UnusedCapacityReservation"),
            product(OTHER_REGION, itype, price * 1.3, fam, ten),
            product(region, itype, price * 0.6, fam, ten, term="Reserved",
                    market="Reserved"),
        ]
        if not is_metal(itype):
            products.append(product(region, itype, price * 1.7,
                                    "Compute Instance", "Dedicated"))
    return products, expected


MALFORMED = [
    lambda: {"not": "a string"},                       # not a JSON string
    lambda: "{\"product\": {",                         # not JSON
    lambda: json.dumps({"product": {"attributes": {}}, "terms": {"OnDemand": {}}}),
    lambda: json.dumps(product("us-east-1", "zz9.large", 1.0, "Compute Instance",
                               "Shared")).replace("\"1.0000000000\"", "\"one\""),
    lambda: json.dumps({"product": {"attributes": {"instanceType": "zz8.large"}}}),
]


def attr(p, field):
    if field.lower() == "productfamily":
        return p["product"]["productFamily"]
    for k, v in p["product"]["attributes"].items():
        if k.lower() == field.lower():
            return v
    return None


class State:
    def __init__(self, products, expected, page_size):
        self.products = products
        self.expected = expected
        self.page_size = page_size
        self.lock = threading.Lock()
        self.fault = "none"
        self.fault_after = 0
        self.malformed = 0
        self.stats = {"requests": 0, "get_products": 0, "errors": 0,
                      "malformed_served": 0, "queries": []}
        self.cache = {}

    def select(self, filters):
        key = json.dumps(filters, sort_keys=True)
        if key not in self.cache:
            self.cache[key] = [p for p in self.products
                               if all(attr(p, f["Field"]) == f["Value"] for f in filters)]
        return self.cache[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj, ctype="application/json"):
        body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        self.end_headers()
        self.wfile.write(body)

    def aws_error(self, status, code, message):
        st = self.state
        with st.lock:
            st.stats["errors"] += 1
        self.reply(status, {"__type": "com.amazonaws.awspricing#" + code,
                            "message": message}, CONTENT_TYPE)

    def do_GET(self):
        st = self.state
        if self.path == "/__expected":
            return self.reply(200, st.expected)
        if self.path == "/__stats":
            with st.lock:
                return self.reply(200, st.stats)
        self.reply(404, {"message": "not found"})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n)

    def do_POST(self):
        st = self.state
        raw = self.body()
        if self.path == "/__control":
            ctl = json.loads(raw)
            with st.lock:
                st.fault = ctl.get("fault", st.fault)
                st.fault_after = ctl.get("fault_after", 0)
                st.malformed = ctl.get("malformed", st.malformed)
            return self.reply(200, {"ok": True})
        with st.lock:
            st.stats["requests"] += 1
        if self.headers.get("X-Amz-Target") != TARGET:
            return self.aws_error(400, "UnknownOperationException",
                                  "unknown target %s" % self.headers.get("X-Amz-Target"))
        if not (self.headers.get("Content-Type") or "").startswith(CONTENT_TYPE):
            return self.aws_error(400, "SerializationException", "bad content type")
        try:
            req = json.loads(raw)
        except ValueError:
            return self.aws_error(400, "SerializationException", "body is not JSON")
        self.get_products(req)

    def injected_fault(self):
        st = self.state
        with st.lock:
            st.stats["get_products"] += 1
            if st.fault == "none" or st.fault_after > 0:
                st.fault_after = max(0, st.fault_after - 1)
                return False
            fault = st.fault
        if fault == "500":
            self.aws_error(500, "InternalErrorException", "injected fault")
        elif fault == "throttle":
            self.aws_error(400, "ThrottlingException", "Rate exceeded")
        elif fault == "auth":
            self.aws_error(400, "UnrecognizedClientException",
                           "The security token included in the request is invalid.")
        else:
            self.reply(200, b"<html>proxy error</html>", "text/html")
        return True

    def get_products(self, req):
        st = self.state
        if self.injected_fault():
            return
        filters = req.get("Filters") or []
        if req.get("ServiceCode") != "AmazonEC2":
            return self.aws_error(400, "InvalidParameterException", "ServiceCode")
        if req.get("FormatVersion", "aws_v1") != "aws_v1":
            return self.aws_error(400, "InvalidParameterException", "FormatVersion")
        if any(f.get("Type") != "TERM_MATCH" or "Field" not in f or "Value" not in f
               for f in filters):
            return self.aws_error(400, "InvalidParameterException", "Filters")
        max_results = req.get("MaxResults", 100)
        if not isinstance(max_results, int) or not 1 <= max_results <= 100:
            return self.aws_error(400, "InvalidParameterException", "MaxResults")
        fkey = sku_of(json.dumps(filters, sort_keys=True))
        start = 0
        if req.get("NextToken") is not None:
            try:
                tok = json.loads(base64.b64decode(req["NextToken"]))
                assert tok["f"] == fkey
                start = int(tok["o"])
            except Exception:
                return self.aws_error(400, "InvalidNextTokenException",
                                      "The pagination token is invalid.")
        matches = st.select(filters)
        n = min(max_results, st.page_size)
        page = [json.dumps(p) for p in matches[start:start + n]]
        with st.lock:
            if start == 0:
                st.stats["queries"].append(
                    {f["Field"]: f["Value"] for f in filters})
                for i in range(st.malformed):
                    page.insert(i * 2 % (len(page) + 1), MALFORMED[i % len(MALFORMED)]())
                st.stats["malformed_served"] += st.malformed
        out = {"FormatVersion": "aws_v1", "PriceList": page}
        if start + n < len(matches):
            out["NextToken"] = base64.b64encode(
                json.dumps({"f": fkey, "o": start + n}).encode()).decode()
        self.reply(200, out, CONTENT_TYPE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapshot", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--price-factor", type=float, default=1.25)
    args = ap.parse_args()
    products, expected = build(json.load(open(args.snapshot)), args.region,
                               args.price_factor)
    Handler.state = State(products, expected, args.page_size)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print("PORT=%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
