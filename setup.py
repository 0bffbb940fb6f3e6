"""mr: a distributed MapReduce engine over NSQ and etcd."""
import os

from setuptools import find_packages, setup

# What setuptools writes while it builds (metadata, a wheel's staging tree) goes to a hidden
# folder, so that an install leaves the repository's top level as it is.
WORK = ".build"
os.makedirs(WORK, exist_ok=True)

CONSOLE_SCRIPTS = [
    "mr_broker = mr.broker.cli:main",
    "mr_lookupd = mr.lookupd.cli:main",
    "mr_worker = mr.cli.worker:console",
    "mr_worker_list = mr.cli.worker_list:console",
    "mr_start_gunicorn_dev = mr.cli.gunicorn:dev",
    "mr_start_gunicorn_prod = mr.cli.gunicorn:prod",
    "mr_dev_cluster = mr.cli.dev_cluster:console",
    "mr_kv_handler_store = mr.cli.handler_store:console",
    # admin and tracing scripts (issue 5)
    "mr_kv_workflow_create = mr.cli.kv_workflow:create.console",
    "mr_kv_workflow_get = mr.cli.kv_workflow:get.console",
    "mr_kv_workflow_list = mr.cli.kv_workflow:list_.console",
    "mr_kv_dump = mr.cli.kv_dump:dump.console",
    "mr_request_pause = mr.cli.request:pause.console",
    "mr_request_resume = mr.cli.request:resume.console",
    "mr_kv_workflow_delete = mr.cli.kv_workflow:delete.console",
    "mr_kv_job_create = mr.cli.kv_job:create.console",
    "mr_kv_job_get = mr.cli.kv_job:get.console",
    "mr_kv_job_list = mr.cli.kv_job:list_.console",
    "mr_kv_job_delete = mr.cli.kv_job:delete.console",
    "mr_kv_step_create = mr.cli.kv_step:create.console",
    "mr_kv_step_get = mr.cli.kv_step:get.console",
    "mr_kv_step_list = mr.cli.kv_step:list_.console",
    "mr_kv_step_delete = mr.cli.kv_step:delete.console",
    "mr_kv_step_set_handler = mr.cli.kv_step:set_handler.console",
    "mr_kv_step_update_handlers = mr.cli.kv_step:update_handlers.console",
    "mr_kv_handler_create = mr.cli.kv_handler:create.console",
    "mr_kv_handler_get = mr.cli.kv_handler:get.console",
    "mr_kv_handler_list = mr.cli.kv_handler:list_.console",
    "mr_kv_handler_delete = mr.cli.kv_handler:delete.console",
    "mr_kv_request_get = mr.cli.kv_request:get.console",
    "mr_kv_request_list = mr.cli.kv_request:list_.console",
    "mr_kv_request_cleanup = mr.cli.kv_request:cleanup.console",
    "mr_kv_invocation_get = mr.cli.kv_invocation:get.console",
    "mr_kv_invocation_list = mr.cli.kv_invocation:list_.console",
    # request tracking (issue 7)
    "mr_request_status = mr.cli.request:status.console",
    "mr_request_retry = mr.cli.request:retry.console",
    "mr_request_rerun = mr.cli.request:rerun_script.console",
    "mr_request_cancel = mr.cli.request:cancel.console",
    "mr_request_result = mr.cli.request:result.console",
    "mr_request_stats = mr.cli.kv_request:stats.console",
    "mr_submit = mr.cli.submit_many:console",
    "mr_get_invocation_graph = mr.cli.trace:graph.console",
    "mr_get_invocation_flat_list = mr.cli.trace:flat_list.console",
    "mr_draw_invocation_graph = mr.cli.trace:draw.console",
    "mr_get_request_sessions = mr.cli.trace:sessions.console",
    "mr_http_notification_listen = mr.cli.notification_listen:console",
]

setup(
    name="mr",
    version="0.1.0",
    description="Distributed MapReduce over NSQ and etcd",
    long_description=open("README.rst", encoding="utf-8").read(),
    python_requires=">=3.11",
    # resources/ (gunicorn configs, the web view's templates and static files) sits beside mr/
    # in the source tree and is installed as mr.resources; mr.resource_files finds either.
    packages=[*find_packages(include=["mr", "mr.*"]), "mr.resources", "mr.resources.static",
              "mr.resources.templates"],
    package_dir={"mr.resources": "resources"},
    include_package_data=True,
    options={"egg_info": {"egg_base": WORK}, "build": {"build_base": f"{WORK}/build"}},
    package_data={"mr.resources.templates": ["*.html"], "mr.resources.static": ["*"]},
    install_requires=[
        "pynsq>=0.9.1,<0.10",
        "tornado>=6.1,<7",
        "gevent>=24.2",
        "gunicorn>=23,<28",
        "packaging>=23",          # gunicorn's gevent worker imports it without declaring it
        "msgpack>=1.0,<2",
        # part files' JSON: an index's id lists written and read several times faster
        "orjson>=3.9,<4",
        "etcd-sdk-python==0.0.7",  # import name: pyetcd; see README design notes
        "grpcio>=1.66,<2",
        "protobuf>=5.27",
        "PyYAML>=6,<7",
        # mr_broker and its benchmark run their event loops on uvloop (about 1.5x asyncio).
        "uvloop>=0.19; sys_platform != 'win32'",
        # mr_broker's snappy compression (framed), the library pynsq's snappy socket uses
        "python-snappy>=0.7,<1",
        # the shared filesystem's object-storage backend (s3://, gcs://, memory://, ...)
        "fsspec>=2024.2",
        # /metrics on front-ends (gunicorn multiprocess mode) and workers
        "prometheus_client>=0.20,<1",
    ],
    extras_require={
        "test": ["pytest>=8,<10", "requests>=2.31,<3",
                 # a real SMTP server (with STARTTLS and AUTH) and its test certificate
                 "aiosmtpd>=1.4,<2", "cryptography>=42",
                 # the web view's browser tests drive Debian's chromium (issue 11)
                 "selenium>=4.20,<5",
                 # tests/unit/test_layers.py checks the import layers in .importlinter
                 "import-linter>=2.17,<3",
                 # tests/integration/test_install.py builds a wheel offline (bdist_wheel built in)
                 "setuptools>=70.1,<81",
                 # tests/unit/test_lint.py: rules change between releases, so one exact version
                 "ruff==0.17.6",
                 # tests/unit/test_types.py: mypy over the modules .mypy.ini calls clean
                 "mypy==2.4.1"],
        # peers of `python -m benchmarks.compare` (issue 9); Redis itself comes from apt
        "bench": ["celery[redis]>=5.3,<6", "redis>=5", "dask[distributed]>=2024.1"],
        # peers of `python -m benchmarks.bigdata`; Spark's Java comes from apt
        "bigdata": ["pyspark>=3.5", "ray>=2.9", "dask[bag,distributed]>=2024.1"],
    },
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
)
