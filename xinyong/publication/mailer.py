"""The mailer: every message to a department goes through `send`, which records it in
audit.mail_ledger before the SMTP call, so a rerun sends nothing twice.

SMTP goes through Airflow's SMTP provider (SmtpHook) with the connection `xinyong_smtp`,
set like every connection from the environment:
`AIRFLOW_CONN_XINYONG_SMTP='smtp://user:password@host:587?from_email=xyb%40example.org'`
(`disable_tls=true&disable_ssl=true` for a plain relay). Without that connection nothing is
sent or recorded: the warnings and reports are still in each department's folder and page,
and the mails go out once a connection is set (events of the last LOOKBACK_DAYS).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from xinyong.runtime import warehouse

log = logging.getLogger(__name__)
SMTP_CONN_ID = "xinyong_smtp"
# Events older than this are not mailed when a connection first appears (no backlog flood).
LOOKBACK_DAYS = 7


@dataclass(frozen=True)
class Message:
    key: str  # unique per event and recipient: the ledger's primary key
    event: str
    department: str
    recipient: str
    subject: str
    html: str
    attachments: tuple[Path, ...] = field(default=())


def _hook():
    """An SmtpHook on the configured connection, or None when there is none."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(SMTP_CONN_ID)
    except AirflowNotFoundException:
        return None
    return SmtpHook(smtp_conn_id=SMTP_CONN_ID)


def _claim(warehouse_url: str, message: Message) -> bool:
    """Record the message as being sent; False when the ledger has it (sent, or in doubt)."""
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            """insert into audit.mail_ledger as l
                   (message_key, event, department, recipient, subject, attachment, status)
               values (%s, %s, %s, %s, %s, %s, 'sending')
               on conflict (message_key) do update set status = 'sending', error = null, claimed_at = now()
                   where l.status = 'failed'
               returning 1""",
            (
                message.key,
                message.event,
                message.department,
                message.recipient,
                message.subject,
                str(message.attachments[0]) if message.attachments else None,
            ),
        )
        return cur.fetchone() is not None


def _settle(warehouse_url: str, key: str, error: str | None) -> None:
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            """update audit.mail_ledger set status = %s, error = %s,
                      sent_at = case when %s is null then now() end
               where message_key = %s""",
            ("failed" if error else "sent", error, error, key),
        )


def send(warehouse_url: str, messages: list[Message]) -> dict[str, int]:
    """Send each message not yet in the ledger; returns counts (sent, skipped, failed, unconfigured)."""
    counts = {"sent": 0, "already": 0, "failed": 0, "not_configured": 0}
    if not messages:
        return counts
    hook = _hook()
    if hook is None:
        counts["not_configured"] = len(messages)
        log.warning(
            "no SMTP connection %r (AIRFLOW_CONN_%s): %d mail(s) not sent; the files are in the "
            "departments' folders",
            SMTP_CONN_ID,
            SMTP_CONN_ID.upper(),
            len(messages),
        )
        return counts
    try:
        hook.get_conn()
    except Exception as exc:  # the server is away: nothing claimed, the next run tries again
        counts["failed"] = len(messages)
        log.warning("SMTP server of %r not reachable: %s", SMTP_CONN_ID, exc)
        return counts
    with hook:
        for message in messages:
            if not _claim(warehouse_url, message):
                counts["already"] += 1
                continue
            try:
                hook.send_email_smtp(
                    to=message.recipient,
                    subject=message.subject,
                    html_content=message.html,
                    files=[str(p) for p in message.attachments] or None,
                )
            except Exception as exc:  # the server refused or went away: the next run tries again
                _settle(warehouse_url, message.key, f"{type(exc).__name__}: {exc}"[:500])
                counts["failed"] += 1
                log.warning("mail %s to %s failed: %s", message.key, message.recipient, exc)
                continue
            _settle(warehouse_url, message.key, None)
            counts["sent"] += 1
    return counts


def ledger(warehouse_url: str, department: str | None = None, limit: int = 200) -> list[dict]:
    """The newest mails, for a department's page."""
    with warehouse.transaction(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            """select message_key, event, department, recipient, subject, attachment, status, error,
                      claimed_at, sent_at
               from audit.mail_ledger where %s::text is null or department = %s
               order by claimed_at desc limit %s""",
            (department, department, limit),
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
