"""The systems the big-data benchmark compares, what each lacks on this machine, and how to
make one. Each system has the same methods: describe(), start(base), stop(), run(job, path)
-> (answer, facts), counters() (cumulative; {} when it has none) and labels() ({pid: name}
of its known processes)."""
from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass

from benchmarks import systems

NAMES = ("mr", "spark", "spark-textbook", "ray", "dask", "plain")
INSTALL = "pip install -e '.[bigdata]' (scripts/bench does it into .venv)"
MODULES = {"mr": [], "spark": ["pyspark"], "spark-textbook": ["pyspark"], "ray": ["ray"],
           "dask": ["dask", "distributed"], "plain": []}
ONLY = {"spark-textbook": ("wordcount",)}   # systems that run some jobs only


@dataclass(frozen=True)
class Options:
    split_bytes: int     # every system reads the input in splits (partitions, blocks) this big
    partitions: int      # reduce partitions where the system shuffles (mr, Spark)
    processes: int = 2   # worker processes (cores) each distributed system gets


def missing(name: str) -> list[str]:
    """What system `name` lacks here, each with the command that installs it."""
    problems = [f"{name}: Python package {module!r} is not installed: {INSTALL}"
                for module in MODULES[name] if importlib.util.find_spec(module) is None]
    if name.startswith("spark") and not (shutil.which("java")
                                         or shutil.which("java", path="/usr/bin")):
        problems.append(f"{name}: java is not installed: apt-get install openjdk-17-jre-headless "
                        "(scripts/bench does it)")
    if name == "mr":
        problems += systems.missing("mr")
        if importlib.util.find_spec("mr.data.parts") is None:
            problems.append("mr: this checkout's engine has no data jobs yet (mr.data.parts)")
    return problems


def runs(name: str, job: str) -> bool:
    """Whether system `name` runs `job`."""
    return job in ONLY.get(name, (job,))


def create(name: str, options: Options):
    """A stopped instance of system `name`."""
    if name == "mr":
        from benchmarks.systems.bigdata_mr import MrData
        return MrData(options)
    if name == "spark":
        from benchmarks.systems.bigdata_spark import SparkPeer
        return SparkPeer(options)
    if name == "spark-textbook":
        from benchmarks.systems.bigdata_spark import SparkTextbook
        return SparkTextbook(options)
    if name == "ray":
        from benchmarks.systems.bigdata_ray import RayPeer
        return RayPeer(options)
    if name == "dask":
        from benchmarks.systems.bigdata_dask import DaskBag
        return DaskBag(options)
    if name == "plain":
        from benchmarks.systems.bigdata_plain import Plain
        return Plain(options)
    raise ValueError(f"unknown system {name!r}; choose from {', '.join(NAMES)}")
