"""Device links (Slack user ↔ SIP device): the one module that encrypts a SIP password, when a link is
saved, and decrypts it, when the dialer rings that device, or re-seals it with a new key (`ringbot rotate-key`).
Nothing else sees a password or a key. It is also the one way a link changes: who may, the audit row, and who is
told."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum

from bot.callback.vault import Sealer, Vault
from bot.outbox.notice import Field, Notice, Notices
from bot.slack.blocks import escape
from storage import NotSaved, Saved, SipUserTaken, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceLink:
    """A stored link. The password stays sealed (the vault's token) until `Links.password` opens it."""

    slack_user: str
    sip_user: str
    linked_by: str | None
    linked_at: float | None
    sealed_password: str = field(repr=False)

    @property
    def linked_by_someone_else(self) -> bool:
        return bool(self.linked_by) and self.linked_by != self.slack_user


class Refusal(StrEnum):
    """Why a link was refused."""

    NOT_ADMIN = "not_admin"  # linking someone else's phone needs an admin
    TAKEN = "taken"  # the SIP user is linked to someone else; only an admin may move it


class LinkRefused(Exception):
    """A link that was not made (audited, and the admins told of an attempt on someone else's device)."""

    def __init__(self, why: Refusal, owner: str | None = None) -> None:
        super().__init__(f"link refused: {why.value}")
        self.why = why
        self.owner = owner


@dataclass(frozen=True)
class LinkSaved:
    """A link made (`saved` NOW), or waiting for the database to take it (LATER)."""

    slack_user: str
    sip_user: str
    by: str
    saved: Saved
    taken_from: str | None = None  # the Slack user who had this SIP user until now (an admin moved it)


@dataclass(frozen=True)
class Unlinked:
    """A link removed (`saved` NOW), or its removal waiting for the database (LATER)."""

    link: DeviceLink
    saved: Saved


@dataclass
class _Attempt:
    """Whether the change runs after the person was answered (held while the database refused writes): a SIP
    user taken meanwhile is then told in a DM, since the dialog that could have said so is closed."""

    answered: bool = False


class Links:
    """Save, read and remove device links. Every change is written with its audit row and its notices (the
    person, the one whose phone it is, the admins) in one transaction, through `Store.write_or_hold`."""

    def __init__(self, store: Store, vault: Vault, notices: Notices) -> None:
        self.store = store
        self.vault = vault
        self.notices = notices

    @property
    def available(self) -> bool:
        """Linking needs a usable RINGBOT_SECRET_KEY; without one ringbot runs but refuses to store passwords."""
        return self.vault.available

    def get(self, slack_user: str) -> DeviceLink | None:
        row = self.store.get_link(slack_user)
        if row is None:
            return None
        return DeviceLink(
            slack_user=row["slack_user"],
            sip_user=row["sip_user"],
            linked_by=row.get("linked_by"),
            linked_at=row.get("linked_at"),
            sealed_password=row["sip_password_enc"],
        )

    def owner_of(self, sip_user: str) -> str | None:
        """The Slack user `sip_user` is linked to (without case), or None."""
        return self.store.link_owner(sip_user)

    def needs_admin(self, slack_user: str, sip_user: str, *, by: str) -> bool:
        """Whether linking takes an admin: someone else's phone, or a SIP user linked to someone else (so the
        caller asks Slack who `by` is only when it matters)."""
        owner = self.owner_of(sip_user)
        return slack_user != by or (owner is not None and owner != slack_user)

    def link(self, slack_user: str, sip_user: str, password: str, *, by: str, is_admin: bool) -> LinkSaved:
        """Link `slack_user` to `sip_user`, the password encrypted. Someone else's phone, or a SIP user linked to
        someone else, needs an admin (who then moves it): otherwise LinkRefused, audited, and the admins told of
        an attempt on someone else's device. VaultError (nothing stored) without a key; NotSaved when the
        database refuses writes and too many changes already wait."""
        owner = self.owner_of(sip_user)
        if slack_user != by and not is_admin:
            raise self._refuse(Refusal.NOT_ADMIN, slack_user, sip_user, by=by, owner=None)
        if owner is not None and owner != slack_user and not is_admin:
            raise self._refuse(Refusal.TAKEN, slack_user, sip_user, by=by, owner=owner)
        token = self.vault.encrypt(password)
        attempt = _Attempt()
        found: list[str] = []  # the owner who took the SIP user first, when the change finds one

        def change(store: Store) -> None:
            try:
                taken_from = store.save_link(slack_user, sip_user, token, by=by, take_over=is_admin)
            except SipUserTaken as exc:  # linked by someone else since the check above
                found.append(exc.owner)
                self._write_refusal(store, Refusal.TAKEN, slack_user, sip_user, by=by, owner=exc.owner)
                if attempt.answered:
                    taken_late = Notice("link.taken_late", {"sip_user": escape(sip_user), "who": self.notices.who()})
                    self.notices.tell(store, by, taken_late)
                return
            self._write_link(store, slack_user, sip_user, by=by, taken_from=taken_from)

        saved = self.store.write_or_hold(change, what=f"link {slack_user}")
        attempt.answered = True
        if saved is Saved.NOW:
            self.notices.wake()
        if found:
            raise LinkRefused(Refusal.TAKEN, found[0])
        taken_from = owner if owner is not None and owner != slack_user else None
        return LinkSaved(slack_user, sip_user, by, saved, taken_from=taken_from)

    def _write_link(self, store: Store, slack_user: str, sip_user: str, *, by: str, taken_from: str | None) -> None:
        """Inside the link's transaction: its audit rows and who hears of it."""
        shown = escape(sip_user)
        notices = self.notices
        if taken_from is not None:
            store.add_audit(
                "unlink", "ok", slack_user=taken_from, sip_user=sip_user, detail=f"by={by} moved_to={slack_user}"
            )
            log.info("device unlinked user=%s sip_user=%s by=%s reason=moved", taken_from, sip_user, by)
        store.add_audit(
            "link", "ok", slack_user=slack_user, sip_user=sip_user, detail=None if by == slack_user else f"by={by}"
        )
        log.info("device linked user=%s sip_user=%s by=%s", slack_user, sip_user, by)
        if slack_user == by:
            notices.tell(store, by, Notice("link.done", {"sip_user": shown}))
        else:
            notices.tell(store, by, Notice("link.done_other", {"user": slack_user, "sip_user": shown}))
            notices.tell(store, slack_user, Notice("link.done_for_you", {"by": by, "sip_user": shown}))
        if taken_from is not None:
            moved = {"by": by, "sip_user": shown, "user": slack_user}
            notices.tell(store, taken_from, Notice("link.taken_from_you", moved))
            announcement = Notice("link.announce_moved", {**moved, "owner": taken_from})
        elif slack_user == by:
            announcement = Notice("link.announce_self", {"user": slack_user, "sip_user": shown})
        else:
            announcement = Notice("link.announce_other", {"by": by, "user": slack_user, "sip_user": shown})
        notices.announce(store, announcement, actor=by)

    def _refuse(self, why: Refusal, slack_user: str, sip_user: str, *, by: str, owner: str | None) -> LinkRefused:
        """Audit a refused link (and tell the admins of an attempt on someone else's device); the exception to
        raise. A refusal the database cannot take is logged: the person is refused either way."""
        try:
            saved = self.store.write_or_hold(
                lambda store: self._write_refusal(store, why, slack_user, sip_user, by=by, owner=owner),
                what=f"refused link {slack_user}",
            )
        except NotSaved as exc:
            log.warning("refused link not audited user=%s state=%s", slack_user, exc.state)
        else:
            if saved is Saved.NOW:
                self.notices.wake()
        return LinkRefused(why, owner)

    def _write_refusal(
        self, store: Store, why: Refusal, slack_user: str, sip_user: str, *, by: str, owner: str | None
    ) -> None:
        reason = f"linked_to={owner}" if why is Refusal.TAKEN else why.value
        store.add_audit("link", "refused", slack_user=slack_user, sip_user=sip_user, detail=f"by={by} {reason}")
        log.warning("link refused user=%s target=%s sip_user=%s reason=%s", by, slack_user, sip_user, reason)
        if why is Refusal.TAKEN and owner is not None:
            whose: Field = "" if slack_user == by else Notice("link.announce_refused_whose", {"user": slack_user})
            fields: dict[str, Field] = {"by": by, "sip_user": escape(sip_user), "whose": whose, "owner": owner}
            self.notices.announce(store, Notice("link.announce_refused", fields))  # every admin hears of it

    def remove(self, slack_user: str, *, by: str) -> Unlinked | None:
        """Unlink `slack_user` (the caller checked that `by` may); None when there is no link. The admins hear of
        it, and so does the person when it was not them."""
        link = self.get(slack_user)
        if link is None:
            return None
        shown = escape(link.sip_user)
        notices = self.notices

        def change(store: Store) -> None:
            if not store.delete_link(slack_user):
                return  # gone meanwhile: nothing to tell
            store.add_audit(
                "unlink",
                "ok",
                slack_user=slack_user,
                sip_user=link.sip_user,
                detail=None if by == slack_user else f"by={by}",
            )
            log.info("device unlinked user=%s sip_user=%s by=%s", slack_user, link.sip_user, by)
            if slack_user == by:
                notices.announce(store, Notice("unlink.announce_self", {"user": by, "sip_user": shown}), actor=by)
                return
            notices.tell(store, slack_user, Notice("unlink.done_for_you", {"by": by, "sip_user": shown}))
            fields = {"by": by, "user": slack_user, "sip_user": shown}
            notices.announce(store, Notice("unlink.announce_other", fields), actor=by)

        saved = self.store.write_or_hold(change, what=f"unlink {slack_user}")
        if saved is Saved.NOW:
            self.notices.wake()
        return Unlinked(link, saved)

    def password(self, link: DeviceLink) -> str:
        """The SIP password in clear, for one click-to-call; VaultError when this key cannot open it."""
        return self.vault.decrypt(link.sealed_password)


# -- the secret key: which key opens each stored password, and re-sealing them with the new one -------------
@dataclass(frozen=True)
class Sealed:
    """A stored password, by whose it is (never the password)."""

    slack_user: str
    sip_user: str


@dataclass(frozen=True)
class KeyCensus:
    """Which key opens the stored SIP passwords (for `ringbot doctor`)."""

    new: int = 0  # RINGBOT_SECRET_KEY opens them
    old: int = 0  # only RINGBOT_SECRET_KEY_OLD does: `ringbot rotate-key` has not re-sealed them yet
    neither: tuple[Sealed, ...] = ()  # no key opens them: their owners link again, or the right old key is set

    @property
    def total(self) -> int:
        return self.new + self.old + len(self.neither)


@dataclass(frozen=True)
class Rotation:
    """What `rotate_key` did."""

    rotated: int  # sealed with the old key, now with the new one
    already_new: int  # the new key already opened them
    unreadable: tuple[Sealed, ...]  # neither key opens them: left as they are
    changed: int = 0  # relinked or unlinked while rotating (sealed by the running bot): left as they are


def key_census(store: Store, vault: Vault) -> KeyCensus:
    """Which key opens each stored SIP password. VaultUnavailable without a usable key."""
    counts = {Sealer.NEW: 0, Sealer.OLD: 0}
    neither: list[Sealed] = []
    for row in store.links():
        sealer = vault.sealer(row["sip_password_enc"])
        if sealer is Sealer.NEITHER:
            neither.append(Sealed(row["slack_user"], row["sip_user"]))
        else:
            counts[sealer] += 1
    return KeyCensus(counts[Sealer.NEW], counts[Sealer.OLD], tuple(neither))


def rotate_key(store: Store, vault: Vault) -> Rotation:
    """Re-seal with the new key every stored SIP password that only the old key opens, all in one transaction
    with its audit row, so nobody links their phone again. A password neither key opens is left as it is (and
    named in the result); one relinked or unlinked meanwhile by a running ringbot is not overwritten. Raises
    VaultUnavailable without a usable key, sqlite3.OperationalError (nothing written) when the database cannot
    be written."""
    # Decrypt and seal before the transaction, so the write lock is held only for the updates: a running bot's
    # writes wait for a few milliseconds, not for the cryptography.
    resealed: list[tuple[str, str, str]] = []  # (slack user, token now, token re-sealed)
    already_new = 0
    unreadable: list[Sealed] = []
    for row in store.links():
        token = row["sip_password_enc"]
        sealer = vault.sealer(token)
        if sealer is Sealer.NEW:
            already_new += 1
        elif sealer is Sealer.NEITHER:
            unreadable.append(Sealed(row["slack_user"], row["sip_user"]))
        else:
            resealed.append((row["slack_user"], token, vault.rotate(token)))
    rotated = 0
    with store.transaction():
        for slack_user, was, now in resealed:
            rotated += store.reseal_link(slack_user, was, now)
        detail = f"rotated={rotated} already_new={already_new} unreadable={len(unreadable)}"
        store.add_audit("rotate_key", "partial" if unreadable else "ok", detail=detail)
    return Rotation(rotated, already_new, tuple(unreadable), len(resealed) - rotated)
