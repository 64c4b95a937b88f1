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
import time
from bench import _stubs
_stubs.install(
    _stubs.Answers(
        recipients={"r1": '{"recipient_id": "r1"}'},
        secrets={"s": '{"k": 1}'},
        connections={"Kq3vXcB8IAMCJbw=": "r1"},
    )
)
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
# A WebSocket API's connections: the table's items by id and by recipient, and @connections.
mgmt = boto3.client(
    "apigatewaymanagementapi",
    region_name="us-east-1",
    endpoint_url="https://ws7q2k9x4d.execute-api.us-east-1.amazonaws.com/prod",
)
posted = mgmt.post_to_connection(ConnectionId="Kq3vXcB8IAMCJbw=", Data=b'{"type":"pong"}')
try:
    mgmt.post_to_connection(ConnectionId="gone", Data=b"{}")
    gone = None
except mgmt.exceptions.GoneException:
    gone = "GoneException"
connection = ddb.get_item(TableName="c", Key={"connection_id": {"S": "Kq3vXcB8IAMCJbw="}})["Item"]
of_r1 = ddb.query(
    TableName="c",
    IndexName="recipient",
    KeyConditionExpression="recipient_id = :r",
    ExpressionAttributeValues={":r": {"S": "r1"}},
)["Items"]
print(json.dumps({
    "posted": posted["ResponseMetadata"]["HTTPStatusCode"],
    "gone": gone,
    "connection": [connection["recipient_id"]["S"], int(connection["expires_at"]["N"]) > time.time()],
    "of_r1": [item["connection_id"]["S"] for item in of_r1],
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
    assert answer["posted"] == 200
    assert answer["gone"] == "GoneException"
    assert answer["connection"] == ["r1", True]
    assert answer["of_r1"] == ["Kq3vXcB8IAMCJbw="]
    assert answer["calls"] == {
        "sns.Publish": 1,
        "sns.PublishBatch": 1,
        "dynamodb.BatchGetItem": 1,
        "dynamodb.UpdateItem": 1,
        "dynamodb.GetItem": 1,
        "dynamodb.Query": 1,
        "secretsmanager.GetSecretValue": 2,
        "apigatewaymanagementapi.PostToConnection": 2,
    }
