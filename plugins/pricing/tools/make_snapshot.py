#!/usr/bin/env python3
"""Converts the reference price data into the pricing plugin's snapshot.

    make_snapshot.py PRICES.json CATALOG.json > configs/pricing/aws-snapshot.json

PRICES.json is the AWS Price List export (on-demand Linux, shared tenancy,
USD/hour per region); CATALOG.json lists the instance types of one region
with the zones that offer them and their usage classes.

Spot prices are not in the reference data (they move hourly), so the
snapshot models them, deterministically, and says so in its "spot_model"
field: for every type whose usage classes include "spot", in every zone that
offers it,

    spot = on_demand * family_fraction(family) * zone_factor(type, zone)

family_fraction is 0.25 + 0.30 * u(family) and zone_factor is
0.90 + 0.20 * u(type + "/" + zone), where u(s) is the 32-bit FNV-1a hash of
s modulo 1000, divided by 1000.  That gives the 45-75 % average spot
discount AWS publishes, different per family and per zone, and the same
numbers on every run.  Prices are rounded to 6 decimals.
"""
import json
import sys

MODEL = ("modelled, not observed: on_demand * (0.25 + 0.30*u(family)) * "
         "(0.90 + 0.20*u(type/zone)), u(s) = (FNV-1a-32(s) mod 1000)/1000")


def fnv1a(s):
    h = 0x811C9DC5
    for b in s.encode():
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def u(s):
    return (fnv1a(s) % 1000) / 1000.0


def main():
    prices = json.load(open(sys.argv[1]))
    catalog = json.load(open(sys.argv[2]))
    region = catalog["region"]
    od = prices["regions"][region]
    spot = {}
    for it in catalog["instance_types"]:
        name = it["name"]
        base = od.get(name)
        if base is None or "spot" not in it["usage_classes"]:
            continue
        family = name.split(".", 1)[0]
        frac = 0.25 + 0.30 * u(family)
        spot[name] = {z: round(base * frac * (0.90 + 0.20 * u(name + "/" + z)), 6)
                      for z in sorted(it["zones"])}
    out = {
        "format": "nodewright.pricing.snapshot/v1",
        "source": prices["source"] + "; zones and usage classes: " + catalog["source"],
        "spot_model": MODEL,
        "regions": {region: {"on-demand": dict(sorted(od.items())),
                             "spot": dict(sorted(spot.items()))}},
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
