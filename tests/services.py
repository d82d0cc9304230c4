"""Real services for integration tests: redis-server, Celery worker processes, the webhook server."""
import json
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
        self.proc = None
        self.start()

    def start(self):
        # Append-only persistence: a restarted Redis comes back with its queues and job records.
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.folder,
                                      "--appendonly", "yes", "--save", ""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


class Fleet:
    """Worker processes sharing one broker (a pair of Redis databases)."""

    def __init__(self, redis_server, db, logs):
        self.env = {**os.environ, "PEAKCLIP_BROKER_URL": redis_server.url(db), "PEAKCLIP_RESULT_BACKEND": redis_server.url(db + 1),
                    "PEAKCLIP_QUEUE_VISIBILITY_TIMEOUT": "8", "PEAKCLIP_QUEUE_RESTORE_INTERVAL": "1",
                    "PEAKCLIP_QUEUE_RETRIES": "20"}
        self.logs = logs
        self.workers = {}

    def start(self, name, queues="analyze,render"):
        log = open(os.path.join(self.logs, f"{name}.log"), "w")
        proc = subprocess.Popen([sys.executable, "-m", "workers.cli", "worker", "--pool", "solo", "--concurrency", "1",
                                 "--hostname", f"{name}@test", "--loglevel", "info", "--queues", queues], cwd=REPO, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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
        return subprocess.run([sys.executable, "-m", "workers.cli", *args], capture_output=True, text=True, cwd=REPO,
                              env=self.env, timeout=timeout)

    def submit(self, *args) -> str:
        result = self.cli("submit", *args)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def status(self, job_id, wait=False, timeout=240) -> dict:
        args = ["status", job_id, "--json"] + (["--wait", "--timeout", str(timeout)] if wait else [])
        result = self.cli(*args)
        return json.loads(result.stdout)


class Service:
    """``peakclip serve`` in a child process, on a free loopback port."""

    def __init__(self, env, log_path):
        self.port = free_port()
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "workers.cli", "serve", "--port", str(self.port)], cwd=REPO,
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
