"""How a reminder reaches someone: one interface, two channels.

- ``EmailChannel``: an e-mail to the patient over SMTP (``smtplib``; host, port,
  credentials, sender and TLS mode from ``settings``). Reaches patients with an e-mail
  address.
- ``InAppChannel``: a notification in the app for the front desk ("call Pat Doe to remind
  them of ..."), for patients e-mail cannot reach. Reaches everyone.

``send(message, outbox)`` either delivers or raises ``DeliveryError``. Channels that write
to the database (in-app) put their notifications in the ``outbox``; the reminder runner
writes them in the same transaction that marks the reminder sent, so an in-app reminder
can never be written twice.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Protocol
from zoneinfo import ZoneInfo

from settings import Settings

SMTP_TIMEOUT_SECONDS = 30
FRONT_DESK_ROLE = "front-desk"
SMTP_SECURITY_MODES = ("auto", "ssl", "starttls", "none")


@dataclass(frozen=True)
class ReminderMessage:
    """Everything a channel needs to remind one patient of one appointment."""

    reminder_id: int
    organization_id: int
    organization_name: str
    appointment_id: int
    offset_minutes: int
    patient_name: str
    patient_email: str | None
    patient_phone: str | None
    practitioner_name: str
    clinic_name: str
    clinic_address: str | None
    clinic_timezone: str
    appointment_type: str
    start_at: datetime
    end_at: datetime

    @property
    def local_start(self) -> datetime:
        return self.start_at.astimezone(ZoneInfo(self.clinic_timezone))

    @property
    def local_end(self) -> datetime:
        return self.end_at.astimezone(ZoneInfo(self.clinic_timezone))

    @property
    def when(self) -> str:
        """'Tue 08 Jan 2030, 09:00–09:30' in the clinic's time."""
        return f"{self.local_start:%a %d %b %Y, %H:%M}–{self.local_end:%H:%M}"


@dataclass(frozen=True)
class OutboxNotification:
    recipient_kind: str
    recipient_role: str | None
    title: str
    body: str


@dataclass
class Outbox:
    """In-app notifications a channel wants written with the reminder's 'sent' mark."""

    notifications: list[OutboxNotification] = field(default_factory=list)


class DeliveryError(Exception):
    """Sending failed. ``permanent``: trying again cannot help (e.g. the address was
    refused); otherwise the runner retries later. ``channel_down``: the channel itself is
    unreachable (server down), so the run's other messages would fail the same way."""

    def __init__(
        self, message: str, *, permanent: bool = False, channel_down: bool = False
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.channel_down = channel_down


class Channel(Protocol):
    name: str

    def reaches(self, message: ReminderMessage) -> bool:
        """Can this channel deliver this message at all (an address, a configured server)?"""
        ...

    def send(self, message: ReminderMessage, outbox: Outbox) -> None: ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------- in-app


class InAppChannel:
    """A to-do for the front desk: phone the patient."""

    name = "in-app"

    def reaches(self, message: ReminderMessage) -> bool:
        return True

    def send(self, message: ReminderMessage, outbox: Outbox) -> None:
        how = f"Phone {message.patient_phone}" if message.patient_phone else "No phone number"
        outbox.notifications.append(
            OutboxNotification(
                recipient_kind="role",
                recipient_role=FRONT_DESK_ROLE,
                title=f"Reminder call: {message.patient_name}",
                body=(
                    f"Remind {message.patient_name} of their "
                    f"{message.appointment_type.lower()} appointment with "
                    f"{message.practitioner_name} at {message.clinic_name}, {message.when}. "
                    f"{how}; no e-mail reminder was sent."
                ),
            )
        )

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- e-mail


def reminder_email(message: ReminderMessage, sender: str) -> EmailMessage:
    """The e-mail a patient receives."""
    email = EmailMessage()
    email["From"] = formataddr((message.organization_name, sender))
    email["To"] = formataddr((message.patient_name, message.patient_email or ""))
    email["Subject"] = (
        f"Reminder: {message.appointment_type} on {message.local_start:%a %d %b at %H:%M}"
    )
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    # Tells auto-responders not to answer (RFC 3834).
    email["Auto-Submitted"] = "auto-generated"
    where = message.clinic_name + (f", {message.clinic_address}" if message.clinic_address else "")
    email.set_content(
        f"Dear {message.patient_name},\n\n"
        f"This is a reminder of your {message.appointment_type.lower()} appointment:\n\n"
        f"  When:  {message.when} ({message.clinic_timezone})\n"
        f"  With:  {message.practitioner_name}\n"
        f"  Where: {where}\n\n"
        "If you cannot come, please call us to cancel or change it, so that another "
        "patient can have the time.\n\n"
        f"{message.organization_name}\n"
    )
    return email


class EmailChannel:
    """E-mail over SMTP. One connection per runner, opened on first use and reused.

    ``security``: ``ssl`` (implicit TLS, usually port 465), ``starttls`` (required),
    ``none`` (plain, e.g. a relay on localhost), or ``auto``: implicit TLS on port 465,
    else STARTTLS whenever the server offers it.
    """

    name = "email"

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("SMTP_HOST is not set")
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.user = settings.smtp_user
        self.password = settings.smtp_password
        self.sender = settings.smtp_sender
        self.security = settings.smtp_security
        self._smtp: smtplib.SMTP | None = None

    def reaches(self, message: ReminderMessage) -> bool:
        return bool(message.patient_email)

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "ssl" or (self.security == "auto" and self.port == 465):
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS, context=context
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS)
            smtp.ehlo()
            if self.security == "starttls" or (
                self.security == "auto" and smtp.has_extn("starttls")
            ):
                smtp.starttls(context=context)
                smtp.ehlo()
        if self.user:
            smtp.login(self.user, self.password or "")
        return smtp

    def send(self, message: ReminderMessage, outbox: Outbox) -> None:
        if not message.patient_email:
            raise DeliveryError("the patient has no e-mail address", permanent=True)
        email = reminder_email(message, self.sender)
        for attempt in (1, 2):
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                self._smtp.send_message(email)
                return
            except smtplib.SMTPServerDisconnected as exc:
                # A reused connection the server has dropped meanwhile: reconnect once.
                self._drop()
                if attempt == 2:
                    raise DeliveryError(
                        f"SMTP server disconnected: {exc}", channel_down=True
                    ) from exc
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                raise DeliveryError(
                    f"the address {message.patient_email} was refused: "
                    + "; ".join(f"{c} {_text(m)}" for c, m in exc.recipients.values()),
                    permanent=all(c >= 500 for c in codes),
                ) from exc
            except smtplib.SMTPResponseException as exc:
                self._drop()
                text = _text(exc.smtp_error)
                raise DeliveryError(
                    f"SMTP error {exc.smtp_code}: {text}",
                    # 5xx is final for this message, except authentication (fixable config).
                    permanent=exc.smtp_code >= 500
                    and not isinstance(exc, smtplib.SMTPAuthenticationError),
                ) from exc
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                raise DeliveryError(
                    f"could not reach the SMTP server {self.host}:{self.port}: {exc}",
                    channel_down=True,
                ) from exc

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def default_channels(settings: Settings) -> dict[str, Channel]:
    """The channels this deployment can use: in-app always, e-mail when SMTP_HOST is set."""
    channels: dict[str, Channel] = {"in-app": InAppChannel()}
    if settings.smtp_host:
        channels["email"] = EmailChannel(settings)
    return channels
