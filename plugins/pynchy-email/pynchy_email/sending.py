"""Writing and sending mail over SMTP (the standard library's smtplib and email).

A message is plain text from the configured sender. Addresses are checked before
anything is sent (one address each, no line breaks), so an agent cannot add headers or
hidden recipients. A reply answers the original's Reply-To (or From), keeps its thread
(In-Reply-To, References) and, with reply_all, copies its other recipients.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from typing import Any

from pynchy_email.config import Account
from pynchy_email.errors import MailError
from pynchy_email.messages import parse

TIMEOUT = 30
MAX_RECIPIENTS = 20
MAX_REFERENCES = 20  # message ids kept in a reply's References


def address(text: str) -> str:
    """One email address ("Ann <ann@example.com>" or "ann@example.com"), else MailError."""
    if any(ord(c) < 32 for c in text):
        raise MailError(f"{text!r} is not an email address (it has a line break)")
    found = getaddresses([text])
    if len(found) != 1 or "@" not in found[0][1] or " " in found[0][1].strip():
        raise MailError(f"{text!r} is not one email address")
    return text.strip()


def compose(
    sender: str,
    to: Sequence[str],
    subject: str,
    body: str,
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
) -> EmailMessage:
    recipients = [*to, *cc, *bcc]
    if not to:
        raise MailError("give at least one address in to")
    if len(recipients) > MAX_RECIPIENTS:
        raise MailError(f"at most {MAX_RECIPIENTS} recipients in all")
    if any(ord(c) < 32 for c in subject):
        raise MailError("the subject must be one line")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(address(a) for a in to)
    if cc:
        message["Cc"] = ", ".join(address(a) for a in cc)
    if bcc:
        message["Bcc"] = ", ".join(address(a) for a in bcc)  # send_message leaves it out
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = " ".join([*references, in_reply_to][-MAX_REFERENCES:])
    message.set_content(body)
    return message


def reply_to(sender: str, original_headers: bytes, body: str, reply_all: bool) -> EmailMessage:
    """A reply to a message, from its raw headers."""
    original = parse(original_headers)
    answer_to = str(original.get("reply-to") or original.get("from") or "")
    to = [_format(a) for a in getaddresses([answer_to]) if "@" in a[1]]
    if not to:
        raise MailError("the message has no address to reply to")
    cc: list[str] = []
    if reply_all:
        mine = {parseaddr(sender)[1].lower(), *(parseaddr(a)[1].lower() for a in to)}
        others = getaddresses([str(original.get("to") or ""), str(original.get("cc") or "")])
        cc = [_format(a) for a in others if "@" in a[1] and a[1].lower() not in mine]
    subject = " ".join(str(original.get("subject") or "").split())
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}".strip()
    message_id = str(original.get("message-id") or "").strip() or None
    references = str(original.get("references") or "").split()
    return compose(
        sender,
        to,
        subject,
        body,
        cc=cc[: MAX_RECIPIENTS - len(to)],
        in_reply_to=message_id,
        references=references,
    )


def _format(pair: tuple[str, str]) -> str:
    name, mail = pair
    return f"{name} <{mail}>" if name else mail


def send(account: Account, message: EmailMessage) -> dict[str, Any]:
    """Send it; the addresses the server took, or MailError."""
    try:
        if account.security == "ssl":
            context = ssl.create_default_context()
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                account.host, account.port, timeout=TIMEOUT, context=context
            )
        else:
            conn = smtplib.SMTP(account.host, account.port, timeout=TIMEOUT)
    except OSError as exc:
        raise MailError(
            f"cannot reach the SMTP server {account.host}:{account.port}"
            f" ({type(exc).__name__}); is EMAIL_SMTP_HOST right?"
        ) from None
    try:
        with conn:
            if account.security == "starttls":
                conn.starttls(context=ssl.create_default_context())
            conn.login(account.user, account.password)
            refused = conn.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise MailError(
            f"the SMTP server refused the login of {account.user!r}: check EMAIL_SMTP_USER"
            " and EMAIL_SMTP_PASSWORD (or [plugin.email]) on the host"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(
            f"the SMTP server refused every recipient: {', '.join(exc.recipients)}"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(f"the SMTP server does not support this: {exc}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"sending failed: {type(exc).__name__}: {_short(exc)}") from None
    sent_to = [a for a in _all_recipients(message) if a not in refused]
    answer: dict[str, Any] = {"sent": True, "message_id": message["Message-ID"], "to": sent_to}
    if refused:
        answer["refused"] = sorted(refused)
    return answer


def _all_recipients(message: EmailMessage) -> list[str]:
    fields = [str(message.get(h) or "") for h in ("to", "cc", "bcc")]
    return [mail for _, mail in getaddresses(fields) if mail]


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
