"""Device links (Slack user ↔ SIP device): the one module that encrypts a SIP password, when a link is
saved, and decrypts it, when the dialer rings that device. Nothing else sees a password or a key."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot.callback.vault import Vault
from storage import SipUserTaken, Store

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


@dataclass(frozen=True)
class LinkSaved:
    """What a saved link changed, for the confirmations and the admins' announcement."""

    slack_user: str
    sip_user: str
    by: str
    taken_from: str | None = None  # the Slack user who had this SIP user until now (an admin moved it)
    replaced: str | None = None  # the SIP user `slack_user` was linked to before, if another one


class Links:
    """Save, read and remove device links; every change leaves an audit row."""

    def __init__(self, store: Store, vault: Vault) -> None:
        self.store = store
        self.vault = vault

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

    def save(self, slack_user: str, sip_user: str, password: str, *, by: str, take_over: bool = False) -> LinkSaved:
        """Link `slack_user` to `sip_user`, the password encrypted. A SIP user linked to someone else raises
        SipUserTaken (audited as a refused link) unless `take_over` (the caller checked for an admin), which moves
        it. VaultError (nothing stored) when the key is missing."""
        token = self.vault.encrypt(password)
        previous = self.get(slack_user)
        try:
            taken_from = self.store.save_link(slack_user, sip_user, token, by=by, take_over=take_over)
        except SipUserTaken as exc:
            self.store.add_audit(
                "link", "refused", slack_user=slack_user, sip_user=sip_user, detail=f"by={by} linked_to={exc.owner}"
            )
            log.warning("link refused user=%s sip_user=%s by=%s reason=taken", slack_user, sip_user, by)
            raise
        if taken_from is not None:
            self.store.add_audit(
                "unlink", "ok", slack_user=taken_from, sip_user=sip_user, detail=f"by={by} moved_to={slack_user}"
            )
            log.info("device unlinked user=%s sip_user=%s by=%s reason=moved", taken_from, sip_user, by)
        self.store.add_audit(
            "link", "ok", slack_user=slack_user, sip_user=sip_user, detail=None if by == slack_user else f"by={by}"
        )
        log.info("device linked user=%s sip_user=%s by=%s", slack_user, sip_user, by)
        return LinkSaved(
            slack_user,
            sip_user,
            by,
            taken_from=taken_from,
            replaced=previous.sip_user if previous and previous.sip_user != sip_user else None,
        )

    def remove(self, slack_user: str, *, by: str) -> DeviceLink | None:
        """Unlink `slack_user`; the link that was removed, or None when there was none."""
        link = self.get(slack_user)
        if link is None or not self.store.delete_link(slack_user):
            return None
        self.store.add_audit(
            "unlink",
            "ok",
            slack_user=slack_user,
            sip_user=link.sip_user,
            detail=None if by == slack_user else f"by={by}",
        )
        log.info("device unlinked user=%s sip_user=%s by=%s", slack_user, link.sip_user, by)
        return link

    def password(self, link: DeviceLink) -> str:
        """The SIP password in clear, for one click-to-call; VaultError when this key cannot open it."""
        return self.vault.decrypt(link.sealed_password)
