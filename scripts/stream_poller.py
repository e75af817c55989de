"""The local run's stand-in for Lambda's DynamoDB event source mapping: a thread that reads the
events table's stream and hands each batch to the ``publish_events`` handler, as Lambda would
(the same event shape; records it reports as failed are handed again, from the first of them,
up to ``retries`` times, then skipped with a line saying so)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class StreamPoller(threading.Thread):
    def __init__(
        self,
        table: str,
        handler: Callable[[dict[str, Any], Any], Any],
        *,
        endpoint: str,
        report: Callable[[str], None] = print,
        interval: float = 1.0,
        retries: int = 3,
    ) -> None:
        super().__init__(name="stream-poller", daemon=True)
        self.table, self.handler, self.endpoint, self.report = table, handler, endpoint, report
        self.interval, self.retries = interval, retries
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout=5)

    def run(self) -> None:
        import boto3

        stream_arn = boto3.client("dynamodb").describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        # botocore would derive an account-based endpoint from the ARN, which moto does not serve.
        streams = boto3.client("dynamodbstreams", endpoint_url=self.endpoint)
        [shard] = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        pending: list[dict[str, Any]] = []
        attempts = 0
        while not self._stopping.is_set():
            try:
                answer = streams.get_records(ShardIterator=iterator)
            except Exception as error:  # noqa: BLE001 - the run is stopping, or moto hiccuped
                self.report(f"lifecycle events: stream read failed ({type(error).__name__})")
                self._stopping.wait(self.interval)
                continue
            iterator = answer["NextShardIterator"]
            pending += [lambda_record(r, stream_arn) for r in answer["Records"]]
            if pending:
                failed = self.handler({"Records": pending}, None).get("batchItemFailures", [])
                first = min((f["itemIdentifier"] for f in failed), default=None)
                attempts = attempts + 1 if first is not None else 0
                if first is None or attempts > self.retries:
                    if first is not None:
                        self.report(f"lifecycle events: gave up on {len(pending)} records after {self.retries} retries")
                    pending, attempts = [], 0
                else:
                    pending = [r for r in pending if r["dynamodb"]["SequenceNumber"] >= first]
            self._stopping.wait(self.interval)


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record as DynamoDB Streams' GetRecords gives it (boto3: a datetime creation time), as
    Lambda's event source mapping hands it to a function: epoch seconds, the stream's ARN, the region."""
    created = record["dynamodb"]["ApproximateCreationDateTime"]
    dynamodb = {**record["dynamodb"], "ApproximateCreationDateTime": created.timestamp()}
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn, "awsRegion": "us-east-1"}
