"""Authenticating the EHR that calls a CDS service: the signed JWT of CDS Hooks (interop.md 1.7).

Every call carries `Authorization: Bearer <JWT>`. The token is accepted only if its issuer is in
ISOGUARD_CDS_ISSUERS, it is signed with ES384, RS384 or ES256 (never `none` or HMAC) by one of the
public keys configured for that issuer, its `aud` is the exact URL called, and it has `exp`,
`iat` and `jti`; a `jti` seen before (within the token's life) is refused as a replay.

Keys are configured locally only: a `jku` in the header is never fetched (the spec asks services
not to fetch arbitrary JWKS URLs; fetching from an allow-listed `jku` is a later increment). Used
tokens are kept in the database (`SeenToken`) until they expire, so a replay to another worker or
app server is refused as well.

An issuer may also list `fhir_servers`: the base URLs of its FHIR servers that isoguard may read
when a call leaves out a prefetch key (fhirserver.py). A `fhirServer` not on that list is never
contacted, so a caller cannot make isoguard send requests (with a token) to a host of its choice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.utils import timezone

ALGORITHMS = ("ES384", "RS384", "ES256")
CURVES = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1}
LEEWAY_SECONDS = 30
MAX_LIFETIME_SECONDS = 60 * 60


class AuthError(Exception):
    """The caller is not authenticated; the message says why (it is safe to return)."""


class ConfigError(ValueError):
    """ISOGUARD_CDS_ISSUERS is malformed."""


@dataclass(frozen=True)
class VerifyingKey:
    kid: str | None
    key: Any  # a cryptography public key


@dataclass(frozen=True)
class Issuer:
    iss: str
    keys: tuple[VerifyingKey, ...]
    algorithms: tuple[str, ...]
    clinic_id: int | None
    identifier_system: str | None
    fhir_servers: tuple[str, ...] = ()
    """Base URLs (no trailing slash) of the FHIR servers isoguard may read for this issuer."""


@dataclass(frozen=True)
class Client:
    """An authenticated EHR: its issuer's configuration and the token's claims."""

    issuer: Issuer
    claims: Mapping[str, Any]


def issuers(raw: Mapping[str, Any] | None = None) -> dict[str, Issuer]:
    """Return the trusted issuers, checking the setting; ConfigError names what is wrong.

    The setting's issuers (keys loaded) are read once per process, not at every hook call;
    a test that overrides the setting clears them (`setting_changed`)."""
    if raw is None:
        return _configured()
    return _parsed(raw)


@cache
def _configured() -> dict[str, Issuer]:
    return _parsed(settings.ISOGUARD_CDS_ISSUERS)


@receiver(setting_changed)
def _forget(setting: str, **kwargs: Any) -> None:
    if setting == "ISOGUARD_CDS_ISSUERS":
        _configured.cache_clear()


def _parsed(raw: Any) -> dict[str, Issuer]:
    if not isinstance(raw, Mapping):
        raise ConfigError("expected a JSON object of issuer -> configuration")
    return {iss: _issuer(iss, conf) for iss, conf in raw.items()}


def _issuer(iss: str, conf: Any) -> Issuer:
    if not isinstance(conf, Mapping):
        raise ConfigError(f"{iss}: expected an object with keys, algorithms, clinic_id")
    unknown = set(conf) - {"keys", "algorithms", "clinic_id", "identifier_system", "fhir_servers"}
    if unknown:
        raise ConfigError(f"{iss}: unknown field {sorted(unknown)[0]!r}")
    algorithms = conf.get("algorithms", list(ALGORITHMS))
    if (
        not isinstance(algorithms, list)
        or not algorithms
        or any(a not in ALGORITHMS for a in algorithms)
    ):
        raise ConfigError(f"{iss}: algorithms must be a non-empty list of {', '.join(ALGORITHMS)}")
    keys = conf.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ConfigError(f"{iss}: keys must be a non-empty list of PEM public keys or JWKs")
    clinic_id = conf.get("clinic_id")
    if clinic_id is not None and (not isinstance(clinic_id, int) or isinstance(clinic_id, bool)):
        raise ConfigError(f"{iss}: clinic_id must be the clinic's number")
    system = conf.get("identifier_system")
    if system is not None and not isinstance(system, str):
        raise ConfigError(f"{iss}: identifier_system must be a URI")
    servers = conf.get("fhir_servers", [])
    if not isinstance(servers, list) or any(not isinstance(s, str) for s in servers):
        raise ConfigError(f"{iss}: fhir_servers must be a list of FHIR base URLs")
    return Issuer(
        iss=iss,
        keys=tuple(_key(iss, k) for k in keys),
        algorithms=tuple(algorithms),
        clinic_id=clinic_id,
        identifier_system=system,
        fhir_servers=tuple(_fhir_server(iss, s) for s in servers),
    )


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a FHIR base URL isoguard reads from, or None if it can.

    https only (http is allowed for a loopback host, for tests and a local EHR); no user, query,
    fragment or `.`/`..` path segment, so that a prefix of the URL is also a prefix of its path.
    """
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an absolute https URL"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        return "must use https (http only for 127.0.0.1 or localhost)"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password"
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return "must not have a query or fragment"
    if any(segment in (".", "..") for segment in parts.path.split("/")) or "%2e" in url.lower():
        return "must not have . or .. path segments (or an encoded dot)"
    if any(c.isspace() or ord(c) < 32 for c in url) or "\\" in url:
        return "must not contain spaces, control characters or backslashes"
    return None


def _fhir_server(iss: str, url: str) -> str:
    problem = url_problem(url)
    if problem is not None:
        raise ConfigError(f"{iss}: fhir_servers: {url!r} {problem}")
    return url.rstrip("/")


def fhir_server_allowed(issuer: Issuer, url: str) -> bool:
    """Whether `url` is one of the issuer's FHIR servers or a path under one (exact prefix)."""
    if url_problem(url) is not None:
        return False
    url = url.rstrip("/")
    return any(url == base or url.startswith(base + "/") for base in issuer.fhir_servers)


def _key(iss: str, value: Any) -> VerifyingKey:
    if isinstance(value, str) and value.lstrip().startswith("{"):
        value = json.loads(value)
    if isinstance(value, Mapping):
        if value.get("kty") not in ("EC", "RSA"):
            raise ConfigError(f"{iss}: a JWK must be an EC or RSA public key")
        if "d" in value:
            raise ConfigError(f"{iss}: a JWK holds a private key; configure the public key only")
        try:
            key = jwt.PyJWK(dict(value)).key
        except jwt.PyJWKError as error:
            raise ConfigError(f"{iss}: unreadable JWK ({error})") from None
        return VerifyingKey(value.get("kid"), key)
    if isinstance(value, str):
        try:
            key = load_pem_public_key(value.encode())
        except ValueError:
            raise ConfigError(f"{iss}: a key is not a PEM public key") from None
        if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise ConfigError(f"{iss}: a PEM key must be EC or RSA")
        return VerifyingKey(None, key)
    raise ConfigError(f"{iss}: a key must be a PEM string or a JWK object")


def _fits(key: Any, alg: str) -> bool:
    if alg in CURVES:
        return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, CURVES[alg])
    return isinstance(key, rsa.RSAPublicKey)


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("an Authorization: Bearer JWT is required")
    return token.strip()


def authenticate(authorization: str | None, audience: str) -> Client:
    """Return the client whose token this is, or raise AuthError with the reason."""
    token = bearer_token(authorization)
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AuthError("the bearer token is not a JWT") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise AuthError(f"algorithm {alg!r} is not accepted; use {', '.join(ALGORITHMS)}")
    if header.get("typ", "JWT") != "JWT":
        raise AuthError("the token's typ must be JWT")
    iss = unverified.get("iss")
    try:
        issuer = issuers().get(iss) if isinstance(iss, str) else None
    except ConfigError:
        issuer = None  # a broken setting trusts nobody; the system check reports it
    if issuer is None:
        raise AuthError("the token's issuer is not trusted by this service")
    if alg not in issuer.algorithms:
        raise AuthError(f"algorithm {alg} is not configured for this issuer")
    kid = header.get("kid")
    candidates = [k for k in issuer.keys if _fits(k.key, alg) and (k.kid is None or k.kid == kid)]
    if not candidates:
        raise AuthError("no key configured for this issuer matches the token's kid and alg")
    claims = None
    for candidate in candidates:
        try:
            claims = jwt.decode(
                token, candidate.key, algorithms=[alg], audience=audience, issuer=iss,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )  # fmt: skip
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidAudienceError:
            raise AuthError(f"the token's aud must be {audience}") from None
        except jwt.PyJWTError as error:
            raise AuthError(f"the token is not valid: {error}") from None
    if claims is None:
        raise AuthError("the token's signature does not verify")
    if claims["exp"] - claims["iat"] > MAX_LIFETIME_SECONDS:
        raise AuthError("the token lives too long (at most one hour)")
    remaining = int(claims["exp"] - time.time()) + LEEWAY_SECONDS
    seen = hashlib.sha256(json.dumps([iss, str(claims["jti"])]).encode()).hexdigest()
    if not _first_use(seen, max(remaining, 1)):
        raise AuthError("the token was used before (jti replay)")
    return Client(issuer, claims)


def _first_use(key: str, seconds: int) -> bool:
    """Record the token as used; False if it was (by any process: the unique key decides)."""
    from isoguard.interop.cdshooks.models import SeenToken

    now = timezone.now()
    try:
        with transaction.atomic():
            SeenToken.objects.filter(expires_at__lt=now).delete()
            SeenToken.objects.create(key=key, expires_at=now + dt.timedelta(seconds=seconds))
    except IntegrityError:
        return False
    return True
