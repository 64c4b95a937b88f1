"""bench/_stubs.py answers as AWS would, through a real boto3 client (in a child interpreter: the
stubs patch botocore for the whole process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CHILD = """
import json
from bench import _stubs
_stubs.install(_stubs.Answers(recipients={"r1": '{"recipient_id": "r1"}'}, secrets={"s": '{"k": 1}'}))
import boto3
sns = boto3.client("sns", region_name="us-east-1")
ddb = boto3.client("dynamodb", region_name="us-east-1")
secrets = boto3.client("secretsmanager", region_name="us-east-1")
topic = "arn:aws:sns:us-east-1:123456789012:t"
one = sns.publish(TopicArn=topic, Message="m")
batch = sns.publish_batch(
    TopicArn=topic, PublishBatchRequestEntries=[{"Id": str(i), "Message": "m"} for i in range(3)]
)
keys = [{"recipient_id": {"S": "r1"}}, {"recipient_id": {"S": "x"}}]
got = ddb.batch_get_item(RequestItems={"t": {"Keys": keys}})
try:
    secrets.get_secret_value(SecretId="missing")
    missing = None
except secrets.exceptions.ResourceNotFoundException:
    missing = "ResourceNotFoundException"
print(json.dumps({
    "message_id": one["MessageId"],
    "batch": sorted(e["Id"] for e in batch["Successful"]),
    "failed": batch["Failed"],
    "items": got["Responses"]["t"],
    "update": ddb.update_item(TableName="t", Key={"k": {"S": "v"}})["ResponseMetadata"]["HTTPStatusCode"],
    "secret": secrets.get_secret_value(SecretId="s")["SecretString"],
    "missing": missing,
    "calls": dict(_stubs.calls),
}))
"""


def test_the_stubs_answer_boto3_as_aws_would() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["message_id"]
    assert answer["batch"] == ["0", "1", "2"]
    assert answer["failed"] == []
    assert answer["items"] == [{"recipient_id": {"S": "r1"}, "document": {"S": '{"recipient_id": "r1"}'}}]
    assert answer["update"] == 200
    assert answer["secret"] == '{"k": 1}'
    assert answer["missing"] == "ResourceNotFoundException"
    assert answer["calls"] == {
        "sns.Publish": 1,
        "sns.PublishBatch": 1,
        "dynamodb.BatchGetItem": 1,
        "dynamodb.UpdateItem": 1,
        "secretsmanager.GetSecretValue": 2,
    }
