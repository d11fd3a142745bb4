"""The peer of lakeorm's Spark write benchmark: pyspark's createDataFrame(...).write.

Builds the same rows as crates/lakeorm/benches/spark_ingest.rs as a pandas DataFrame (not
timed), then times `spark.createDataFrame(pdf).write.format("delta").mode("append").save(path)`
against the same Spark Connect server: one warm-up write, then the best of the rounds.
Prints one line: `pyspark-bench rows=N secs=S`.
"""

import os
import sys
import tempfile
import time

import pandas as pd
from pyspark.sql import SparkSession


def rows(n: int) -> pd.DataFrame:
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


def main() -> None:
    url, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    spark = SparkSession.builder.remote(url).getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    pdf = rows(n)
    with tempfile.TemporaryDirectory() as lake:
        path = os.path.join(lake, "bench_events")
        spark.createDataFrame(pdf).write.format("delta").mode("append").save(path)
        best = float("inf")
        for _ in range(rounds):
            started = time.perf_counter()
            spark.createDataFrame(pdf).write.format("delta").mode("append").save(path)
            best = min(best, time.perf_counter() - started)
    print(f"pyspark-bench rows={n} secs={best:.4f}")
    spark.stop()


if __name__ == "__main__":
    main()
