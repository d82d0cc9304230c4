"""The queue from Python: ``submit(...) -> job_id``, ``status(job_id)``, ``wait(job_id)``."""
from __future__ import annotations

import json
import os
import time

from peakclip.detectors.errors import UserError
from peakclip.detectors.objects import check_bucket, check_object, is_object
from peakclip.detectors.probe import is_url
from peakclip.detectors.transcript.embedded import NAME as EMBEDDED
from peakclip.pipeline.config import Config, load_config
from peakclip.pipeline.options import chat_log_of, job_config
from peakclip.pipeline.output.captions import check_captions
from peakclip.pipeline.output.finish import check_output_dir
from peakclip.pipeline.promotion.rerender import profile_wanted
from peakclip.pipeline.ranking.rules import Rules
from peakclip.workers.app import declare_queues, make_app
from peakclip.workers.jobs import Jobs, check_broker, connect, job_id_for, mark_output
from peakclip.workers.steps import send_step
from peakclip.workers.tierstate import RedisTierState


def submit(input: str, chat: str | None = None, out: str = "peakclip-out", config: Config | str | None = None,
           **options) -> str:
    """Queue a clip job; returns its id. The same input, chat, output folder and options give the
    same id, and a job that exists and has not failed is not queued again. Any input may be an
    object (``s3://bucket/key``) and ``out`` an object prefix; a local ``out`` is made here and
    marked, and a worker that does not see the mark fails the job (``jobs.check_shared``).

    ``config``: a Config, a TOML file, or None (the defaults and the environment). ``options`` are
    ``peakclip clip``'s options by name (peakclip.pipeline.options), applied over it and checked as
    its flags are, e.g. ``submit(path, clips=3, min_len=10)``; ``events=FILE`` without ``chat`` is
    the job's chat log, as ``--events`` alone is."""
    given = {"chat": chat, **options}
    config = job_config(config, given)
    chat = chat_log_of(given)
    # Any of them may be an object (s3://): each worker reads the recording where it lies and
    # fetches the small inputs into its own scratch, with its own keys.
    transcript = config.transcript.path if config.transcript.path != EMBEDDED else None
    check_input(input, "input")
    for path, what in ((chat, "chat log"), (transcript, "transcript"), (config.chat.events, "events log"),
                       (config.tag.rules, "rules file"), (config.render.watermark, "watermark image")):
        if path:
            check_input(path, what)
    check_captions(config.transcript)   # here, not on a worker after the analysis
    out = checked_output(out)
    input = input if is_url(input) else os.path.abspath(input)
    chat = here(chat)
    # The job record keeps what the job needs; secrets and service settings stay out of Redis.
    settings = {k: v for k, v in config.to_dict().items() if k != "service"}
    if transcript:
        transcript = settings["transcript"]["path"] = here(transcript)   # workers start elsewhere
    if config.chat.events:
        settings["chat"]["events"] = here(config.chat.events)
    settings["tag"]["rules"], settings["render"]["watermark"] = here(config.tag.rules), here(config.render.watermark)
    job_id = job_id_for(input, chat, out, {k: v for k, v in settings.items() if k != "queue"}, transcript)
    check_broker(config.queue.broker_url)
    store = Jobs(connect(config.queue.result_backend, check=True))
    if store.create(job_id, {"input": input, "chat": chat or "", "out": out, "config": json.dumps(settings)}):
        if not is_object(out):
            mark_output(out, job_id)
        send_step(queue_app(config), store, job_id, "plan")
    return job_id


def check_input(path: str, what: str) -> None:
    """That an input named for a queued job is there: an object (one line for a missing key or
    bucket, refused keys, an unreachable store), or a file here."""
    if is_object(path):
        check_object(path, what)
    elif not is_url(path) and not os.path.isfile(path):
        raise UserError(f"{what} not found: {path}")


def here(path: str | None) -> str | None:
    """A local file as an absolute path (workers start elsewhere); an object or URL as it is."""
    return path if not path or is_url(path) else os.path.abspath(path)


def checked_output(out: str) -> str:
    """A job's output as its record keeps it: a bucket that is there, or a folder made here, by
    its absolute path (the workers must see this very folder: ``mark_output``)."""
    if is_object(out):
        check_bucket(out)
        return out
    out = os.path.abspath(out)
    check_output_dir(out)
    return out


def queue_app(config: Config):
    app = make_app(config)
    declare_queues(app)
    return app


def submit_watch(source: str, chat: str | None, out: str, config: Config,
                 events: tuple[str, int] | None = None) -> str:
    """Queue a watch of a stream on air (``peakclip watch`` on a worker of the ``live`` queue);
    returns its job id. The recording and the chat log need not exist yet. ``events``: instead of
    a chat log file, the Redis list (key, index of its first line for this watch) the service
    gathers the stream's events in (``workers.liveevents``)."""
    check_captions(config.transcript)
    from peakclip.pipeline.executors.live import refuse_objects   # the watch's own refusal, said here before queueing

    refuse_objects(source, chat)
    source = source if is_url(source) else os.path.abspath(source)   # a playlist served over HTTP stays a URL
    chat = os.path.abspath(chat) if chat else None
    out = checked_output(out)
    settings = {k: v for k, v in config.to_dict().items() if k != "service"}
    if config.chat.events:
        settings["chat"]["events"] = os.path.abspath(config.chat.events)
    job_id = job_id_for(source, chat, out, {"watch": {k: v for k, v in settings.items() if k != "queue"}})
    store = Jobs(connect(config.queue.result_backend, check=True))
    fields = {"input": source, "chat": chat or "", "out": out, "config": json.dumps(settings), "kind": "watch"}
    if events:
        fields["events_key"], fields["events_from"] = events
    if store.create(job_id, fields):
        if not is_object(out):
            mark_output(out, job_id)
        send_step(queue_app(config), store, job_id, "watch")
    return job_id


def stop_watch(job_id: str, config: Config) -> None:
    """Tell a watch its stream has ended: it finalises within a poll or two."""
    Jobs(connect(config.queue.result_backend, check=True)).r.set(f"peakclip:job:{job_id}:stop", "1", ex=7 * 86400)


def status(job_id: str, config: Config | None = None) -> dict:
    config = config or load_config()
    return Jobs(connect(config.queue.result_backend, check=True)).status(job_id)


def wait(job_id: str, timeout: float | None = None, poll: float = 1.0, config: Config | None = None) -> dict:
    """Block until the job succeeds or fails (or ``timeout`` seconds pass); returns its status."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        current = status(job_id, config)
        if current["state"] in ("success", "failure"):
            return current
        if deadline is not None and time.monotonic() > deadline:
            return current
        time.sleep(poll)


def queue_promoted_render(tiers: RedisTierState, state: dict, rules: Rules, app, config: Config) -> str | None:
    """After feedback on a queued job's clip: if its pool now asks for another render profile than
    its files have, queue one ``peakclip.render_promoted`` task for it (``state``: the clip's tier
    state as ``RedisTierState.add`` returned it). Returns the profile being rendered, or None."""
    if state["status"] != "active" or not state.get("job"):
        return None
    profile = profile_wanted(state.get("profile"), state["pool"], rules)
    if profile is None:
        return None
    # One render per promotion: feedback that arrives while it runs finds the claim and queues none.
    if tiers.claim_render(state["id"], profile.name, config.queue.render_time_limit + 120):
        try:
            app.send_task("peakclip.render_promoted", args=(state["job"], state["id"], profile.to_dict()),
                          queue="render")
        except BaseException:
            tiers.release_render(state["id"])
            raise
    return profile.name
