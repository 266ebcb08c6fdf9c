#!/usr/bin/env python3
"""The AWS side of tests/e2e/aws_e2e.sh, run with the moto venv's python
(boto3 comes with moto).  It plays what a real AWS account and real
kubelets would do around nodewright, nothing of nodewright itself:

  setup CLUSTER          VPC, two subnets (us-east-1a/b) and a security
                         group tagged karpenter.sh/discovery=CLUSTER, an
                         instance profile, and the EKS AL2023 SSM
                         parameters (through the proxy, moto lacks them);
                         prints the AMI ids as JSON
  instances CLUSTER      the cluster's instances (tag
                         kubernetes.io/cluster/CLUSTER), as JSON lines:
                         {"id", "state", "zone", "type", "tags"}
  kubelets CLUSTER SEL   forever: a Node per running instance of the
                         cluster, as its kubelet would register it
                         (name = private DNS name, providerID
                         aws:///<zone>/<id>, the kwok selector label SEL so
                         kwok makes it Ready, the unregistered taint), and
                         the Nodes of terminated instances deleted, as the
                         cloud node lifecycle controller does.

The endpoint comes from AWS_ENDPOINT_URL (the proxy in front of moto).
"""
import json
import os
import subprocess
import sys
import time
import urllib.request

import boto3

REGION = "us-east-1"


def client(service):
    return boto3.client(service, region_name=REGION,
                        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                        aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def proxy(path, body):
    req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + path,
                                 data=json.dumps(body).encode(),
                                 method="POST")
    urllib.request.urlopen(req).read()


def newest_ami(ec2, pattern):
    images = ec2.describe_images(
        Filters=[{"Name": "name", "Values": [pattern]}])["Images"]
    if not images:
        sys.exit(f"e2e_helper: moto has no image named {pattern}")
    return sorted(images, key=lambda i: i.get("CreationDate", ""))[-1]["ImageId"]


def setup(cluster):
    ec2 = client("ec2")
    seed = os.getpid() % 200 + 10
    vpc = ec2.create_vpc(CidrBlock=f"10.{seed}.0.0/16")["Vpc"]["VpcId"]
    ids = []
    for i, zone in enumerate(["us-east-1a", "us-east-1b"]):
        sn = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{seed}.{i + 1}.0/24",
                               AvailabilityZone=zone)["Subnet"]["SubnetId"]
        ids.append(sn)
    sg = ec2.create_security_group(GroupName=f"{cluster}-nodes",
                                   Description="nodes", VpcId=vpc)["GroupId"]
    ids.append(sg)
    ec2.create_tags(Resources=ids, Tags=[
        {"Key": "karpenter.sh/discovery", "Value": cluster}])
    client("iam").create_instance_profile(InstanceProfileName=cluster)
    x86 = newest_ami(ec2, "al2023-ami-2023*-x86_64")
    arm = newest_ami(ec2, "al2023-ami-2023*-arm64")
    base = "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023"
    proxy("/__proxy/config", {"ssm_parameters": {
        f"{base}/x86_64/standard/recommended/image_id": x86,
        f"{base}/arm64/standard/recommended/image_id": arm}})
    print(json.dumps({"vpc": vpc, "subnets": ids[:2], "security_group": sg,
                      "ami_x86": x86, "ami_arm": arm}))


def cluster_instances(ec2, cluster):
    out = []
    pages = ec2.get_paginator("describe_instances").paginate(Filters=[
        {"Name": f"tag:kubernetes.io/cluster/{cluster}", "Values": ["owned"]}])
    for page in pages:
        for r in page["Reservations"]:
            for i in r["Instances"]:
                out.append({
                    "id": i["InstanceId"], "state": i["State"]["Name"],
                    "zone": i["Placement"]["AvailabilityZone"],
                    "type": i["InstanceType"],
                    "dns": i.get("PrivateDnsName") or i["InstanceId"],
                    "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])}})
    return out


def instances(cluster):
    for i in cluster_instances(client("ec2"), cluster):
        print(json.dumps(i))


def kubectl(*args, stdin=None):
    return subprocess.run(["kubectl", *args], input=stdin, capture_output=True,
                          text=True)


# What the kubelet reports: the type's size (the catalog's published
# numbers for the few types the e2e allows), arch from the type.
SIZES = {"m5.large": (2, 8), "m5.xlarge": (4, 16), "m5.2xlarge": (8, 32),
         "c5.xlarge": (4, 8), "c5.2xlarge": (8, 16), "r5.large": (2, 16)}


def node_manifest(inst, sel_key, sel_value):
    cpus, gib = SIZES.get(inst["type"], (2, 8))
    cap = {"cpu": str(cpus), "memory": f"{gib * 1024 - 600}Mi", "pods": "58"}
    alloc = {"cpu": f"{cpus * 1000 - 150}m",
             "memory": f"{gib * 1024 - 600 - 1200}Mi", "pods": "58"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": inst["dns"],
            "labels": {sel_key: sel_value,
                       "kubernetes.io/hostname": inst["dns"],
                       "kubernetes.io/os": "linux",
                       "kubernetes.io/arch": "amd64",
                       "node.kubernetes.io/instance-type": inst["type"],
                       "topology.kubernetes.io/zone": inst["zone"],
                       "topology.kubernetes.io/region": REGION},
            "annotations": {sel_key: sel_value}},
        "spec": {"providerID": f"aws:///{inst['zone']}/{inst['id']}",
                 "taints": [{"key": "karpenter.sh/unregistered",
                             "effect": "NoExecute"}]},
        "status": {"capacity": cap, "allocatable": alloc,
                   "nodeInfo": {"architecture": "amd64",
                                "operatingSystem": "linux"}}}


def kubelets(cluster, selector):
    sel_key, sel_value = selector.split("=", 1)
    ec2 = client("ec2")
    registered = set()
    while True:
        try:
            insts = cluster_instances(ec2, cluster)
        except Exception as e:  # moto restarting or busy: try again
            sys.stderr.write(f"e2e_helper: describe failed: {e}\n")
            time.sleep(2)
            continue
        for inst in insts:
            name = inst["dns"]
            if inst["state"] in ("pending", "running") and name not in registered:
                r = kubectl("create", "-f", "-",
                            stdin=json.dumps(node_manifest(inst, sel_key, sel_value)))
                if r.returncode == 0 or "AlreadyExists" in r.stderr:
                    registered.add(name)
                    sys.stderr.write(f"e2e_helper: registered {name} ({inst['id']})\n")
                else:
                    sys.stderr.write(f"e2e_helper: register {name}: {r.stderr}\n")
            elif inst["state"] in ("shutting-down", "terminated") and name in registered:
                r = kubectl("delete", "node", name, "--ignore-not-found",
                            "--wait=false")
                if r.returncode == 0:
                    registered.discard(name)
                    sys.stderr.write(f"e2e_helper: removed {name} ({inst['id']})\n")
        sys.stderr.flush()
        time.sleep(1)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: e2e_helper.py setup|instances|kubelets CLUSTER [SELECTOR]")
    cmd, cluster = sys.argv[1], sys.argv[2]
    if cmd == "setup":
        setup(cluster)
    elif cmd == "instances":
        instances(cluster)
    elif cmd == "kubelets" and len(sys.argv) == 4:
        kubelets(cluster, sys.argv[3])
    else:
        sys.exit(f"e2e_helper: unknown command {cmd}")


if __name__ == "__main__":
    main()
