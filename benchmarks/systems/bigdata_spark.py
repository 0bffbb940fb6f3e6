"""PySpark as a compared system: the RDD API on local[2] (one JVM, two task threads, a Python
worker per task), textFile(minPartitions=the number of splits), each partition counted (or
indexed) whole with mapPartitions, then reduceByKey into as many partitions as the engine's
reducers, and collect(). The driver may hold the whole answer: spark.driver.memory 4g and no
cap on the collected result's size, as a user collecting a big index would set.

"spark-textbook" is the word count as Spark's own guide writes it and as the data-scale goals
were first measured: flatMap(split), map to (word, 1), reduceByKey(add) — a pair per word
through the Python workers. It runs the word count only (the textbook index, a pair per
(word, id) through groupByKey, takes too long at a gigabyte to be worth the wait)."""
from __future__ import annotations

import operator
import os
import sys
from pathlib import Path

from benchmarks import bigdata_jobs as jobs
from benchmarks import bigdata_splits as splits


def count_partition(lines):
    return jobs.count_lines(lines).items()


def index_partition(lines):
    return jobs.index_lines(lines).items()


def one(word):
    return word, 1


class SparkPeer:
    name = "spark"

    def __init__(self, options):
        self.options = options
        self.context = None

    def describe(self) -> str:
        import pyspark
        return (f"PySpark {pyspark.__version__} RDD API, local[{self.options.processes}], "
                f"mapPartitions, reduceByKey into {self.options.partitions} partitions")

    def start(self, base: Path) -> None:
        from pyspark import SparkConf, SparkContext
        os.environ["PYSPARK_PYTHON"] = sys.executable  # this venv's Python for the workers
        conf = (SparkConf().setMaster(f"local[{self.options.processes}]")
                .setAppName("mr-bigdata").set("spark.ui.enabled", "false")
                .set("spark.driver.memory", "4g").set("spark.driver.maxResultSize", "0")
                .set("spark.local.dir", str(base / "spark")))
        self.context = SparkContext(conf=conf)
        self.context.setLogLevel("ERROR")

    def stop(self) -> None:
        if self.context is not None:
            self.context.stop()
            self.context = None

    def counters(self) -> dict:
        return {}

    def labels(self) -> dict[int, str]:
        return {}

    def run(self, job: str, path: str) -> tuple[dict, dict]:
        count = len(splits.ranges(os.path.getsize(path), self.options.split_bytes))
        lines = self.context.textFile("file://" + os.path.abspath(path), minPartitions=count)
        return dict(self.pairs(job, lines).collect()), {"partitions": lines.getNumPartitions()}

    def pairs(self, job: str, lines):
        """The RDD of the job's answer pairs over the RDD of the corpus's lines."""
        if job == "wordcount":
            return lines.mapPartitions(count_partition).reduceByKey(
                operator.add, self.options.partitions)
        return lines.mapPartitions(index_partition).reduceByKey(
            jobs.extend_ids, self.options.partitions).mapValues(sorted)


class SparkTextbook(SparkPeer):
    name = "spark-textbook"

    def describe(self) -> str:
        import pyspark
        return (f"PySpark {pyspark.__version__} RDD API, local[{self.options.processes}], "
                f"flatMap(split).map((word, 1)).reduceByKey(add) into "
                f"{self.options.partitions} partitions")

    def pairs(self, job: str, lines):
        return lines.flatMap(str.split).map(one).reduceByKey(operator.add,
                                                              self.options.partitions)
