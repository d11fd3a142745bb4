"""The peer of lakeorm's Spark write benchmark: pyspark's createDataFrame(...).write.

Builds the same rows as crates/lakeorm/benches/spark_ingest.rs (not timed) in the three forms
a pyspark user starts from, and times
`spark.createDataFrame(data).write.format("delta").mode("append").save(path)` for each against
the same Spark Connect server: one warm-up write, then the best of the rounds.
- `records`: a list of Python tuples with a schema (rows built by application code);
- `pandas`: a pandas DataFrame;
- `arrow`: a ready pyarrow Table.
Prints one line per form: `pyspark-bench path=FORM rows=N secs=S`.
"""

import os
import sys
import tempfile
import time
from datetime import datetime, timezone

import pandas as pd
import pyarrow as pa
from pyspark.sql import SparkSession

SCHEMA = "id BIGINT, kind STRING, user_id BIGINT, amount DOUBLE, payload STRING, at TIMESTAMP"


def frame(n: int) -> pd.DataFrame:
    ids = pd.RangeIndex(n)
    kinds = pd.Series(["click", "view", "buy"])[ids % 3].reset_index(drop=True)
    payload = pd.Series([('{"n":%d}' % i) if i % 4 == 0 else None for i in range(n)])
    return pd.DataFrame(
        {
            "id": pd.Series(ids, dtype="int64"),
            "kind": kinds,
            "user_id": pd.Series(ids % 10_007, dtype="int64"),
            "amount": pd.Series((ids % 1000) / 10.0, dtype="float64"),
            "payload": payload,
            "at": pd.Series(pd.Timestamp(1_700_000_000, unit="s", tz="UTC"), index=range(n)),
        }
    )


def records(n: int) -> list:
    at = datetime.fromtimestamp(1_700_000_000, tz=timezone.utc)
    kinds = ["click", "view", "buy"]
    return [
        (i, kinds[i % 3], i % 10_007, (i % 1000) / 10.0, ('{"n":%d}' % i) if i % 4 == 0 else None, at)
        for i in range(n)
    ]


def best_of(spark, path: str, rounds: int, make) -> float:
    make().write.format("delta").mode("append").save(path)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        make().write.format("delta").mode("append").save(path)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    url, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    spark = SparkSession.builder.remote(url).getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    pdf = frame(n)
    table = pa.Table.from_pandas(pdf, preserve_index=False)
    rows = records(n)
    forms = {
        "records": lambda: spark.createDataFrame(rows, SCHEMA),
        "pandas": lambda: spark.createDataFrame(pdf),
        "arrow": lambda: spark.createDataFrame(table),
    }
    with tempfile.TemporaryDirectory() as lake:
        for form, make in forms.items():
            secs = best_of(spark, os.path.join(lake, f"bench_{form}"), rounds, make)
            print(f"pyspark-bench path={form} rows={n} secs={secs:.4f}", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
