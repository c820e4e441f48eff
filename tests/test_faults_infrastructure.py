"""Faults of the infrastructure, each against the real services: Redis down (pages and the API
serve, the work waits in the database and goes out once when Redis is back), a Celery worker
killed with SIGKILL in the middle of a send (its send taken for a lost answer: through Resend sent
once, through SendGrid failed for staff with one copy out), the database connection
dropped in the middle of a request (a clean 503, and the next request is served).

Every test breaks only what it started itself: its own redis-server on a free port, its own
worker and web processes, its own backend's connection (pg_terminate_backend). The shared
Redis and PostgreSQL are never stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import OperationalError, connection
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from automation import engine
from automation.models import AutomationRun, Event
from automation.tasks import automation_dispatch_pending
from careops.errors import handler500
from careops.models import WorkerHeartbeat
from contacts.services import contact_create
from contacts.tests.factories import ContactFactory
from messaging import delivery
from messaging.models import Message
from messaging.tasks import message_deliver, messages_retry_due
from messaging.tests.factories import ConversationFactory, resend_on, sendgrid_on
from messaging.tests.stand_in import RESEND, SENDGRID, Answer
from tests.processes import BIN, broker_at, env_with, free_port, start, stop, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.real_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

CONVERSATIONS = "/api/v1/messages/conversations"
CONTACTS = "/api/v1/contacts"
# Long enough to kill the worker while it waits; shorter than the providers' client timeout
# (messaging.providers.SEND_TIMEOUT), so that the send is cut by the kill, not by a timeout.
SLOW_SEND_SECONDS = 10
# A request whose task cannot be published answers within this (about 0.6 s: two quick retries).
PUBLISH_GIVEN_UP_WITHIN = 3


# --- The processes each test starts and stops ---------------------------------------------------


def database_url() -> str:
    """The test database, for the processes a test starts."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class RedisServer:
    """A redis-server of the test's own, on a free port: stopped and started again on the same
    port to play an outage. Nothing is persisted: a restart comes back empty, as a Redis that
    lost its memory does."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = tmp_path / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = start(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            os.environ.copy(),
            self.log,
        )
        wait_for(self.answers, timeout=10, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None

    def answers(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def services_env(redis_url: str, **more: str) -> dict[str, str]:
    """The environment of a worker or web process on the test database and on `redis_url` (the
    broker and the cache: one Redis, as in production)."""
    return env_with(
        DATABASE_URL=database_url(),
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        WORKER_HEARTBEAT_SECONDS="1",
        **more,
    )


@contextmanager
def celery_worker(tmp_path: Path, redis_url: str, *, pool: str = "solo") -> Iterator:
    """A real worker on `redis_url`, up once its heartbeat is in the database."""
    hostname = f"fault-{uuid.uuid4().hex[:8]}@localhost"
    log = tmp_path / f"{hostname}.log"
    process = start(
        [
            str(BIN / "celery"),
            "-A",
            "careops",
            "worker",
            f"--pool={pool}",
            "--concurrency=1",
            "-n",
            hostname,
            "--loglevel=INFO",
        ],
        services_env(redis_url),
        log,
    )
    try:
        wait_for(
            lambda: WorkerHeartbeat.objects.filter(hostname=hostname).exists(),
            timeout=60,
            what=f"the worker's heartbeat (log: {log})",
        )
        yield process
    finally:
        if process.poll() is None:
            stop(process)


@contextmanager
def web_server(tmp_path: Path, redis_url: str) -> Iterator[str]:
    """gunicorn serving the app on `redis_url`, as in production; yields its base URL."""
    port = free_port()
    log = tmp_path / "web.log"
    process = start(
        [
            str(BIN / "gunicorn"),
            "careops.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "30",
        ],
        services_env(redis_url),
        log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/health"), timeout=30, what=f"gunicorn (log: {log})")
        yield base
    finally:
        stop(process)


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def drain(workspace, owner) -> None:
    """Wait until a solo worker has done everything queued so far: it takes the queue in order,
    so once a contact created now has its event dispatched, the earlier tasks ran."""
    marker = contact_create(workspace=workspace, actor=owner, name="Queue Marker")
    event = Event.objects.get(kind=Event.Kind.CONTACT_CREATED, subject_id=marker.pk)
    wait_for(
        lambda: Event.objects.filter(pk=event.pk, dispatched_at__isnull=False).exists(),
        timeout=60,
        what="the worker to work through its queue",
    )


def as_if_minutes_ago(queryset) -> None:
    """Past the sweeps' grace (delivery.QUEUED_GRACE, engine.SWEEP_GRACE_SECONDS): the rows
    are the sweeps' now, as they would be a few minutes into an outage."""
    queryset.update(created_at=timezone.now() - timedelta(minutes=5))


def status_of(message: Message) -> tuple[str, int]:
    message.refresh_from_db()
    return message.status, message.attempts


@pytest.fixture
def conversation(workspace_a):
    contact = ContactFactory(workspace=workspace_a, name="Dana Client", email="dana@example.org")
    return ConversationFactory(contact=contact)


# --- Redis down ---------------------------------------------------------------------------------


def test_with_redis_down_pages_and_api_serve_and_the_work_goes_out_once_when_it_is_back(
    tmp_path, own_redis, stand_in, workspace_a, owner, conversation, client
):
    resend_on(stand_in, workspace_a)
    client.force_login(owner)
    session = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    api = {"Authorization": f"Bearer {RefreshToken.for_user(owner).access_token}"}

    with celery_worker(tmp_path, own_redis.url), web_server(tmp_path, own_redis.url) as web:
        assert requests.get(f"{web}/health/ready", timeout=10).status_code == 200

        own_redis.stop()

        ready = requests.get(f"{web}/health/ready", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["failing"] == ["broker"]
        assert ready.json()["checks"]["database"]["ok"] is True
        assert requests.get(f"{web}/", cookies=session, timeout=10).status_code == 200
        page = requests.get(f"{web}/contacts/", cookies=session, timeout=10)
        assert page.status_code == 200
        assert "Dana Client" in page.text
        listed = requests.get(f"{web}{CONVERSATIONS}", headers=api, timeout=10)
        assert listed.status_code == 200
        sent = requests.post(
            f"{web}{CONVERSATIONS}/{conversation.pk}/messages",
            json={"body": "See you on Monday.", "subject": "Your visit"},
            headers=api,
            timeout=10,
        )
        assert sent.status_code == 201, sent.text
        created = requests.post(
            f"{web}{CONTACTS}", json={"name": "Ann Lee"}, headers=api, timeout=10
        )
        assert created.status_code == 201, created.text
        # The publish is given up quickly (CELERY_TASK_PUBLISH_RETRY_POLICY), not waited on.
        assert max(r.elapsed.total_seconds() for r in (sent, created)) < PUBLISH_GIVEN_UP_WITHIN

        # The work waits in the database; nothing reached the provider.
        message = Message.objects.get(pk=sent.json()["id"])
        assert status_of(message) == (Message.Status.QUEUED, 0)
        event = Event.objects.get(kind=Event.Kind.CONTACT_CREATED, subject_id=created.json()["id"])
        assert event.dispatched_at is None
        assert stand_in.requests_to(RESEND) == []
        assert "task_enqueue_failed" in (tmp_path / "web.log").read_text()

        own_redis.start()  # the same port; it remembers nothing of before
        wait_for(
            lambda: requests.get(f"{web}/health/ready", timeout=10).status_code == 200,
            timeout=30,
            what="readiness to see the broker back",
        )
        # Beat's minute sweeps, twice over (two beats, or a beat and a redelivery).
        as_if_minutes_ago(Message.objects.filter(pk=message.pk))
        as_if_minutes_ago(Event.objects.filter(pk=event.pk))
        with broker_at(own_redis.url):
            for _ in range(2):
                messages_retry_due.delay()
                automation_dispatch_pending.delay()
            wait_for(
                lambda: status_of(message)[0] == Message.Status.SENT,
                timeout=60,
                what="the worker to send the message",
            )
            drain(workspace_a, owner)

    assert status_of(message) == (Message.Status.SENT, 1)
    (request,) = stand_in.requests_to(RESEND)
    assert request.json["to"] == ["dana@example.org"]
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert event.attempts == 1
    keys = AutomationRun.objects.filter(event=event).values_list("key", flat=True)
    assert sorted(keys) == sorted(
        engine.run_key(event, rule_kind) for rule_kind, _ in engine.HANDLERS[event.kind]
    )


# --- A worker killed in the middle of a send ----------------------------------------------------


def send_through_api(owner_api, conversation, redis_url: str) -> Message:
    with broker_at(redis_url):
        response = owner_api.post(
            f"{CONVERSATIONS}/{conversation.pk}/messages",
            {"body": "See you on Monday.", "subject": "Your visit"},
            format="json",
        )
    assert response.status_code == 201, response.content
    return Message.objects.get(pk=response.json()["id"])


def wait_until_mid_send(stand_in, path: str = RESEND) -> None:
    wait_for(lambda: stand_in.requests_to(path), timeout=60, what="the worker to start sending")


def sigkill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def as_if_the_killed_send_began_long_ago(message: Message) -> None:
    """Past any delivery task's hard time limit (delivery.sending_limit()): the mark left by the
    killed worker is then known to be no live worker's."""
    Message.objects.filter(pk=message.pk).update(
        sending_since=timezone.now() - delivery.sending_limit() - timedelta(seconds=1)
    )


def as_if_its_retry_time_had_come(message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def assert_marked_and_left_alone(message: Message, integration, key: str) -> None:
    """The mark committed before the provider was called survived the kill; the task handed over
    again found it (young: the send may be running) and left the message alone."""
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Message.Status.QUEUED, 0)
    assert message.sending_since is not None
    assert (message.unconfirmed_integration, message.unconfirmed_key) == (integration, key)


def test_a_worker_killed_mid_send_is_replaced_and_the_message_is_sent_once(
    tmp_path, own_redis, stand_in, workspace_a, owner, owner_api, conversation
):
    resend = resend_on(stand_in, workspace_a)
    # Resend takes the email, and answers late: the worker is killed while it waits.
    stand_in.script(RESEND, Answer(delay=SLOW_SEND_SECONDS))

    with celery_worker(tmp_path, own_redis.url) as first:
        message = send_through_api(owner_api, conversation, own_redis.url)
        wait_until_mid_send(stand_in)
        sigkill(first.pid)
        first.wait(timeout=10)

    key = f"careops-message-{message.pk}-1"
    with celery_worker(tmp_path, own_redis.url), broker_at(own_redis.url):
        # The task is handed over again: by beat's minute sweep, and by Redis once the
        # visibility timeout has passed (the task the dead worker never acknowledged).
        as_if_minutes_ago(Message.objects.filter(pk=message.pk))
        messages_retry_due.delay()
        message_deliver.delay(message.pk)
        drain(workspace_a, owner)
        assert_marked_and_left_alone(message, resend, key)
        assert len(stand_in.requests_to(RESEND)) == 1

        # The killed worker's send, known dead, is a lost answer: retried through Resend alone,
        # with its key, when its time comes.
        as_if_the_killed_send_began_long_ago(message)
        messages_retry_due.delay()
        wait_for(
            lambda: status_of(message) == (Message.Status.FAILED, 1),
            timeout=60,
            what="the new worker to take the killed send for a lost answer",
        )
        assert "may have been sent" in message.error
        as_if_its_retry_time_had_come(message)
        messages_retry_due.delay()
        wait_for(
            lambda: status_of(message)[0] == Message.Status.SENT,
            timeout=60,
            what="the new worker to send the message",
        )
        drain(workspace_a, owner)

    assert status_of(message) == (Message.Status.SENT, 2)
    # Two requests, the killed worker's and the retry, with the key of the killed attempt:
    # Resend answered the second from its memory, and one email went out.
    sends = stand_in.requests_to(RESEND)
    assert len(sends) == 2
    assert {r.headers["Idempotency-Key"] for r in sends} == {key}
    assert stand_in.sent_to(RESEND) == sends[:1]


def test_a_worker_killed_mid_send_through_sendgrid_leaves_one_copy_and_the_message_to_staff(
    tmp_path, own_redis, stand_in, workspace_a, owner, owner_api, conversation
):
    sendgrid = sendgrid_on(stand_in, workspace_a, priority=1)
    resend_on(stand_in, workspace_a, priority=2)  # a fallback: it would send a second copy
    # SendGrid takes the email, and answers late: the worker is killed while it waits.
    stand_in.script(SENDGRID, Answer(202, delay=SLOW_SEND_SECONDS))

    with celery_worker(tmp_path, own_redis.url) as first:
        message = send_through_api(owner_api, conversation, own_redis.url)
        wait_until_mid_send(stand_in, SENDGRID)
        sigkill(first.pid)
        first.wait(timeout=10)

    with celery_worker(tmp_path, own_redis.url), broker_at(own_redis.url):
        as_if_minutes_ago(Message.objects.filter(pk=message.pk))
        messages_retry_due.delay()
        message_deliver.delay(message.pk)
        drain(workspace_a, owner)
        assert_marked_and_left_alone(message, sendgrid, "")  # SendGrid knows no key

        as_if_the_killed_send_began_long_ago(message)
        messages_retry_due.delay()
        wait_for(
            lambda: status_of(message)[0] == Message.Status.FAILED,
            timeout=60,
            what="the new worker to fail the killed send for staff",
        )
        # Nothing sends it again: not the sweep, not a redelivery.
        as_if_minutes_ago(Message.objects.filter(pk=message.pk))
        messages_retry_due.delay()
        message_deliver.delay(message.pk)
        drain(workspace_a, owner)

    assert status_of(message) == (Message.Status.FAILED, 1)
    assert message.next_attempt_at is None
    assert len(stand_in.sent_to(SENDGRID)) == 1  # the client got at most the one copy
    assert stand_in.requests_to(RESEND) == []
    # Staff see why, and decide (the inbox's retry button).
    listed = owner_api.get(f"{CONVERSATIONS}/{conversation.pk}/messages")
    assert listed.status_code == 200
    (shown,) = [row for row in listed.json()["results"] if row["id"] == message.pk]
    assert shown["status"] == "failed"
    assert shown["error"] == f"sendgrid: {delivery.CUT_SHORT}; {delivery.UNCONFIRMED_STOP}"
    assert "it may have been sent" in shown["error"]


def pool_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def test_a_pool_process_killed_mid_send_has_its_task_redelivered_and_sent_once(
    tmp_path, own_redis, stand_in, workspace_a, owner, owner_api, conversation
):
    resend = resend_on(stand_in, workspace_a)
    stand_in.script(RESEND, Answer(delay=SLOW_SEND_SECONDS))

    with celery_worker(tmp_path, own_redis.url, pool="prefork") as worker:
        message = send_through_api(owner_api, conversation, own_redis.url)
        wait_until_mid_send(stand_in)
        (child,) = pool_children(worker.pid)
        sigkill(child)  # as the kernel's OOM killer does
        # acks_late + reject_on_worker_lost: the task goes back to the queue at once, and the
        # pool's new process takes it; it finds the killed send's mark, young, and skips.
        wait_for(
            lambda: pool_children(worker.pid) not in ([], [child]),
            timeout=60,
            what="the pool to replace its process",
        )
        key = f"careops-message-{message.pk}-1"
        with broker_at(own_redis.url):
            drain(workspace_a, owner)
            assert_marked_and_left_alone(message, resend, key)

            as_if_the_killed_send_began_long_ago(message)
            as_if_minutes_ago(Message.objects.filter(pk=message.pk))
            messages_retry_due.delay()
            wait_for(
                lambda: status_of(message) == (Message.Status.FAILED, 1),
                timeout=60,
                what="the killed send to be taken for a lost answer",
            )
            as_if_its_retry_time_had_come(message)
            messages_retry_due.delay()
            wait_for(
                lambda: status_of(message)[0] == Message.Status.SENT,
                timeout=60,
                what="the retry to send the message",
            )

    assert status_of(message) == (Message.Status.SENT, 2)
    sends = stand_in.requests_to(RESEND)
    assert len(sends) == 2
    assert {r.headers["Idempotency-Key"] for r in sends} == {key}
    assert stand_in.sent_to(RESEND) == sends[:1]


# --- The database connection dropped mid-request ------------------------------------------------


def terminate_backend(pid: int) -> None:
    """End one server process, as a failover, an idle-session killer or an admin would, and
    wait until it is gone. Through a connection of its own: the one being ended is in use."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
    ) as admin:
        ended = admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()[0]
    assert ended, f"backend {pid} did not end"


@contextmanager
def connection_dropped_before(statement: str) -> Iterator[list[int]]:
    """The next request's database connection is ended by the server just before the request's
    first SQL statement containing `statement`; yields the ended pids."""
    ended: list[int] = []

    def drop_before(execute, sql, params, many, context):
        if not ended and statement in sql:
            backend = context["connection"].connection
            ended.append(backend.info.backend_pid)
            terminate_backend(backend.info.backend_pid)
        return execute(sql, params, many, context)

    def install(**kwargs):
        connection.execute_wrappers.append(drop_before)

    def remove(**kwargs):
        if drop_before in connection.execute_wrappers:
            connection.execute_wrappers.remove(drop_before)

    # The live server's requests run in threads of their own: each gets its own connection.
    request_started.connect(install, dispatch_uid="fault-install")
    request_finished.connect(remove, dispatch_uid="fault-remove")
    try:
        yield ended
    finally:
        request_started.disconnect(dispatch_uid="fault-install")
        request_finished.disconnect(dispatch_uid="fault-remove")


# Where the request meets the dropped connection: in the view, or at its very first query (a
# connection the server ended while it idled in the pool), which for a page is a middleware's.
MID_VIEW = '"contacts_contact"'
API_FIRST_QUERY = '"workspaces_user"'  # the bearer token's user, read by DRF's authentication
PAGE_FIRST_QUERY = '"django_session"'  # read for django-structlog's user id, in its middleware
# More than the pool keeps idle (DATABASE_POOL_MIN_SIZE): the pool hands its connections out in
# turn, so a broken one put back would be met by one of these.
NEXT_REQUESTS = 3


@pytest.mark.parametrize("statement", [MID_VIEW, API_FIRST_QUERY])
def test_an_api_request_whose_database_connection_drops_gets_a_503_and_the_next_is_served(
    live_server, owner, workspace_a, statement
):
    ContactFactory(workspace=workspace_a, name="Dana Client")
    api = {"Authorization": f"Bearer {RefreshToken.for_user(owner).access_token}"}
    url = f"{live_server.url}{CONTACTS}"

    with connection_dropped_before(statement) as ended:
        response = requests.get(url, headers=api, timeout=30)

    assert ended, f"the request never ran {statement}"
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json() == {
        "code": "service_unavailable",
        "message": "The service is briefly unavailable. Retry soon.",
    }
    # Served again, whichever of the pool's connections comes next: the ended one was dropped.
    for _ in range(NEXT_REQUESTS):
        again = requests.get(url, headers=api, timeout=30)
        assert again.status_code == 200
        assert [row["name"] for row in again.json()["results"]] == ["Dana Client"]


@pytest.mark.parametrize("statement", [MID_VIEW, PAGE_FIRST_QUERY])
def test_a_page_whose_database_connection_drops_gets_a_503_page_and_the_next_is_served(
    live_server, owner, workspace_a, client, statement
):
    ContactFactory(workspace=workspace_a, name="Dana Client")
    client.force_login(owner)
    session = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    url = f"{live_server.url}/contacts/"

    with connection_dropped_before(statement) as ended:
        response = requests.get(url, cookies=session, timeout=30)

    assert ended, f"the page never ran {statement}"
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Content-Type"].startswith("text/html")
    assert "CareOps is briefly unavailable" in response.text
    for _ in range(NEXT_REQUESTS):
        again = requests.get(url, cookies=session, timeout=30)
        assert again.status_code == 200
        assert "Dana Client" in again.text


def test_a_page_whose_connection_drops_while_its_session_is_saved_gets_a_503_page(
    live_server, owner, workspace_a, client
):
    client.force_login(owner)
    session = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    page = requests.get(f"{live_server.url}/contacts/", cookies=session, timeout=30)
    assert page.status_code == 200
    token = page.cookies[settings.CSRF_COOKIE_NAME]
    cookies = {**session, settings.CSRF_COOKIE_NAME: token}
    switch = {"workspace_id": workspace_a.pk, "next": "/contacts/"}

    # The view is done; the session middleware's write, on the way out, meets the dropped
    # connection. Django reports a session it could not save as SessionInterrupted, a 400.
    with connection_dropped_before('UPDATE "django_session"') as ended:
        response = requests.post(
            f"{live_server.url}/workspaces/switch/",
            data=switch,
            cookies=cookies,
            headers={"X-CSRFToken": token},
            timeout=30,
        )

    assert ended, "the session was never saved"
    assert response.status_code == 503
    assert "CareOps is briefly unavailable" in response.text
    for _ in range(NEXT_REQUESTS):
        again = requests.get(f"{live_server.url}/contacts/", cookies=session, timeout=30)
        assert again.status_code == 200


def test_a_lost_connection_that_reaches_the_500_handler_is_a_503(rf):
    # Raised by a middleware once the user is read: Django's handling calls handler500.
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        page = handler500(rf.get("/contacts/"))
        api = handler500(rf.get(CONTACTS))

    assert (page.status_code, page["Retry-After"]) == (503, "5")
    assert b"CareOps is briefly unavailable" in page.content
    assert (api.status_code, api["Retry-After"]) == (503, "5")
    assert api["Content-Type"] == "application/json"
