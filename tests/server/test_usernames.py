"""Issue 13.12: user names are normalized on add and on login (NFKC + case folding, the PRECIS
UsernameCaseMapped idea of RFC 8265), and control, format, bidi and separator characters and
leading/trailing spaces are refused, so lookalikes cannot become separate accounts. Names stored
before normalization keep working."""

from __future__ import annotations

from typing import Any

import pytest

from jwtkit.server.admin import AdminService, AlreadyExistsError, InvalidValueError
from jwtkit.server.grants.password import password_grant
from jwtkit.server.oauth import OAuthError
from jwtkit.server.usernames import UsernameError, normalize_username

from .support import Svc

SAME_AS_ALICE = [
    "alice",
    "Alice",
    "ALICE",
    "\uff41\uff4c\uff49\uff43\uff45",  # fullwidth
    "\uff21LICE",  # fullwidth capital A
    "al\u0130ce".replace("\u0130", "i"),
]
SAME_AS_JOSE = ["jos\u00e9", "jose\u0301", "JOS\u00c9", "JOSE\u0301", "\uff4aos\u00e9"]
REFUSED = {
    "empty": "",
    "zero-width-space": "ali\u200bce",
    "zero-width-joiner": "ali\u200dce",
    "zero-width-non-joiner": "ali\u200cce",
    "word-joiner": "alice\u2060",
    "bom": "\ufeffalice",
    "soft-hyphen": "ali\u00adce",
    "rtl-override": "\u202ealice",
    "ltr-override": "alice\u202d",
    "rtl-isolate": "\u2067alice",
    "rtl-mark": "alice\u200f",
    "c1-nel": "alice\u0085",
    "c1-csi": "\u009balice",
    "c0-tab": "ali\tce",
    "c0-nul": "alice\x00",
    "del": "alice\x7f",
    "trailing-space": "alice ",
    "leading-space": " alice",
    "trailing-nbsp": "alice\u00a0",
    "trailing-ideographic-space": "alice\u3000",
    "line-separator": "alice\u2028",
    "paragraph-separator": "alice\u2029",
    "private-use": "alice\ue000",
    "tag-character": "alice\U000e0041",
    "unassigned": "alice\U0010fffe",
    "too-long": "u" * 256,
}


@pytest.mark.parametrize("variant", SAME_AS_ALICE + SAME_AS_JOSE)
def test_variants_have_one_canonical_form(variant: str) -> None:
    family = SAME_AS_ALICE if variant in SAME_AS_ALICE else SAME_AS_JOSE
    assert normalize_username(variant) == normalize_username(family[0])


@pytest.mark.parametrize("name", list(REFUSED.values()), ids=list(REFUSED))
def test_refused_names(name: str) -> None:
    with pytest.raises(UsernameError):
        normalize_username(name)


def _login(svc: Svc, username: str, password: str) -> Any:
    client = svc.store.get_client("web")
    return password_grant(svc.service, client, username, password, None, "127.0.0.1")


@pytest.fixture
def admin(make_svc: Any) -> tuple[Svc, AdminService]:
    svc: Svc = make_svc()
    svc.add_client()
    return svc, AdminService.from_services(svc.services, actor="test")


def test_add_and_login_use_the_canonical_name(admin: tuple[Svc, AdminService]) -> None:
    svc, service = admin
    user = service.add_user("Alice", "alice-password")
    assert user.username == "alice"
    for variant in SAME_AS_ALICE:
        with pytest.raises(AlreadyExistsError):
            service.add_user(variant, "other-password")
        tokens = _login(svc, variant, "alice-password")
        assert tokens["access_token"]
    assert [u.username for u in service.list_users()] == ["alice"]
    assert service.user("ALICE").id == user.id  # admin commands find it by any spelling
    service.disable_user("\uff21LICE")
    assert svc.store.get_user("alice").disabled  # type: ignore[union-attr]


@pytest.mark.parametrize("name", list(REFUSED.values()), ids=list(REFUSED))
def test_refused_on_add_and_unknown_on_login(admin: tuple[Svc, AdminService], name: str) -> None:
    svc, service = admin
    service.add_user("alice", "alice-password")
    with pytest.raises(InvalidValueError):
        service.add_user(name, "alice-password")
    assert [u.username for u in service.list_users()] == ["alice"]
    if name and len(name) <= 255:
        with pytest.raises(OAuthError) as info:  # never alice's account under a lookalike
            _login(svc, name, "alice-password")
        assert info.value.error == "invalid_grant"


def test_names_stored_before_normalization_keep_working(admin: tuple[Svc, AdminService]) -> None:
    svc, service = admin
    legacy = svc.add_user("Bob", "bob-password", "read")  # as an older version stored it
    assert _login(svc, "Bob", "bob-password")["access_token"]
    with pytest.raises(AlreadyExistsError):  # no new lookalike of a legacy name either
        service.add_user("bob", "new-bob-password")
    assert service.user("Bob").id == legacy.id
    service.set_password("Bob", "bob-password-2")
    assert _login(svc, "Bob", "bob-password-2")["access_token"]


def test_lookalikes_share_one_failed_login_counter(admin: tuple[Svc, AdminService]) -> None:
    svc, service = admin
    service.add_user("alice", "alice-password")
    limit = svc.settings.login_max_failures_per_user
    spellings = ["alice", "Alice", "ALICE", "\uff41lice"]
    for i in range(limit):
        with pytest.raises(OAuthError):
            _login(svc, spellings[i % len(spellings)], "wrong-password")
    with pytest.raises(OAuthError) as info:  # locked out under every spelling
        _login(svc, "ALICE", "alice-password")
    assert info.value.status == 429
