"""A staff socket lives only as long as its right to the data: the dashboard socket closes
when its user logs out, loses staff or is deactivated, in whatever process that happens.

- On the event: `user_logged_out`, and a User save that leaves it not staff or not active,
  send `{"type": "user.revoked", "session": tag}` to the group `user-<id>`
  (events.user_group) after commit; every dashboard socket of that user, on any server
  process, is in that group. A logout names the session it ends (`session_tag`, a hash:
  the key itself never travels): that session's sockets close at once, the same user's
  other sessions (another browser) re-check and stay. A save names none: every socket of
  the user re-checks against the database, which already holds the change.
- As a backstop (a lost layer message, a session deleted or expired, a password change,
  an update() that sends no signal): each socket re-reads its session and user every
  `RECHECK_EVERY` seconds and closes the same way when the right is gone.

`CLOSE_REVOKED` (4401, "unauthorized" in the application range) is the code the page
understands: static/js/livesettle.js sends the browser to the login page on it.
"""

import asyncio
import hashlib
import logging
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save
from django.utils.crypto import constant_time_compare

from payments import events

CLOSE_REVOKED = 4401
RECHECK_EVERY = 3.0


def still_staff(user_pk: Any, session_key: str | None) -> bool:
    """Sync (ORM): the session still signs in this user, who is still active staff."""
    if not session_key:
        return False
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if str(session.get(SESSION_KEY, "")) != str(user_pk):
        return False  # logged out, expired, or flushed
    user = get_user_model().objects.filter(pk=user_pk, is_active=True, is_staff=True).first()
    if user is None:
        return False
    # Django logs a session out when the password changes: its hash no longer matches.
    return constant_time_compare(session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash())


def session_tag(session_key: str | None) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()[:32] if session_key else ""


def _revoke_on_commit(user_pk: Any, session: str = "") -> None:
    events.send_event_on_commit(events.user_revoked(user_pk, session=session))


def _on_logout(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    # Sent before the session is flushed, so the message names it rather than relying on a
    # re-check that could still find it.
    if user is not None and user.pk is not None:
        session = getattr(request, "session", None)
        _revoke_on_commit(user.pk, session_tag(getattr(session, "session_key", None)))


def _on_user_saved(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    # Without the old row at hand, any save of a user who may not use the dashboard now
    # revokes: a no-op for a user who had no dashboard open.
    if not created and not (instance.is_active and instance.is_staff):
        _revoke_on_commit(instance.pk)


def connect_signals() -> None:
    user_logged_out.connect(_on_logout, dispatch_uid="consumers.access.logout")
    post_save.connect(_on_user_saved, sender=get_user_model(), dispatch_uid="consumers.access.user_saved")


class StaffSocket:
    """What a staff-only consumer does when its rights end while the socket is open: a
    `user.revoked` message (logout, demotion, in any process) or the periodic re-check
    closes it with CLOSE_REVOKED. The consumer sets `user_pk`, `session_key`, `revoked`;
    `_on_revoke` drops what it still holds, before the close."""

    async def user_revoked(self, event: dict[str, Any]) -> None:
        """Its user logged out (this session or another) or lost staff, in some process."""
        if event.get("session") and event["session"] == session_tag(self.session_key):
            await self._revoke()
        else:
            await self._check_access()

    async def _recheck_access(self) -> None:
        """The backstop for a lost revocation message, an expired session, a password change."""
        while not self.revoked:
            await asyncio.sleep(RECHECK_EVERY)
            await self._check_access()

    async def _check_access(self) -> None:
        try:
            allowed = await database_sync_to_async(still_staff)(self.user_pk, self.session_key)
        except Exception as exc:  # the database is down: keep the socket until it answers
            logging.getLogger(type(self).__module__).info("access re-check failed (%s)", type(exc).__name__)
            return
        if not allowed:
            await self._revoke()

    async def _revoke(self) -> None:
        if self.revoked:
            return
        self.revoked = True  # from here dispatch() drops every message
        await self._on_revoke()
        await self.close(code=CLOSE_REVOKED)

    async def _on_revoke(self) -> None:
        pass
