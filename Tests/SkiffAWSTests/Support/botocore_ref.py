#!/usr/bin/env python3
"""botocore as a reference for skiff's EC2 client tests. Reads one JSON request on stdin, writes JSON to stdout.

{"mode": "sign", "method", "url", "headers": {..}, "body", "access_key", "secret_key", "token", "region",
 "amz_date"}  -> {"canonical_request", "string_to_sign", "signature"}   (botocore SigV4Auth)
{"mode": "serialize", "action", "input": {...}}  -> {"params": {...}}   (botocore's EC2 serializer)
{"mode": "iam-user", "endpoint"} -> {"access_key", "secret_key"}  (an IAM user allowed ec2:*, via boto3)
{"mode": "instance-profile", "endpoint", "name"} -> {"arn"}  (an IAM instance profile, via boto3)
{"mode": "roundtrip", "requests": [{"action", "params": {...}}]}
    -> {"results": [{"action", "dropped": [...], "changed": [...], "added": [...]}]}
    Parses each flat parameter map with the botocore model (moto's EC2QueryParser), serializes the result
    again with botocore's serializer, and reports every wire name the model does not know.
"""
import json
import sys

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.serialize import create_serializer


def model():
    return botocore.session.get_session().get_service_model("ec2")


def flat(params):
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()
            if k not in ("Action", "Version")}


def main():
    req = json.load(sys.stdin)
    mode = req["mode"]
    if mode == "sign":
        body = req["body"].encode()
        request = AWSRequest(method=req["method"], url=req["url"], data=body, headers=req["headers"])
        request.context["timestamp"] = req["amz_date"]
        auth = SigV4Auth(Credentials(req["access_key"], req["secret_key"], req.get("token")), "ec2", req["region"])
        creq = auth.canonical_request(request)
        sts = auth.string_to_sign(request, creq)
        print(json.dumps({"canonical_request": creq, "string_to_sign": sts,
                          "signature": auth.signature(sts, request)}))
    elif mode == "serialize":
        op = model().operation_model(req["action"])
        out = create_serializer("ec2").serialize_to_request(req["input"], op)
        print(json.dumps({"params": flat(out["body"])}))
    elif mode == "roundtrip":
        from moto.core.parse import EC2QueryParser
        from werkzeug.datastructures import MultiDict
        service = model()
        serializer = create_serializer("ec2")
        results = []
        for item in req["requests"]:
            op = service.operation_model(item["action"])
            sent = item["params"]
            parsed = EC2QueryParser(op).parse({"values": MultiDict(sent), "body": b"", "headers": {},
                                               "method": "POST", "url_params": {}, "url_path": "/"})
            again = flat(serializer.serialize_to_request(parsed, op)["body"])
            results.append({
                "action": item["action"],
                "dropped": sorted(k for k in sent if k not in again),
                "changed": sorted(k for k in sent if k in again and again[k] != sent[k]),
                "added": sorted(k for k in again if k not in sent),
            })
        print(json.dumps({"results": results}))
    elif mode == "iam-user":
        import boto3
        iam = boto3.client("iam", endpoint_url=req["endpoint"], region_name="us-east-1",
                           aws_access_key_id="AKIDBOOTSTRAP", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="skiff-test")
        iam.put_user_policy(UserName="skiff-test", PolicyName="ec2", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="skiff-test")["AccessKey"]
        print(json.dumps({"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}))
    elif mode == "instance-profile":
        import boto3
        iam = boto3.client("iam", endpoint_url=req["endpoint"], region_name="us-east-1",
                           aws_access_key_id="AKIDBOOTSTRAP", aws_secret_access_key="bootstrap")
        profile = iam.create_instance_profile(InstanceProfileName=req["name"])["InstanceProfile"]
        print(json.dumps({"arn": profile["Arn"]}))
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
