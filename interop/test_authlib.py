#!/usr/bin/env python3
"""Interoperability test: Python's authlib, as an OAuth 2.0 / OpenID Connect client,
against a running Latchkey.

Starts its own `latchkey serve` (binary from $LATCHKEY_BIN, default
../target/debug/latchkey next to this file) on a free loopback port in a temporary
directory, makes a user and three clients with the `latchkey` command line, then
drives the server with authlib's requests client (OAuth2Session) and validates what it
gets with authlib's own claim classes on top of joserfc (the JOSE library authlib
itself uses from 1.7 on; authlib.jose is deprecated there):

   1. discovery (authlib's RFC 8414 / OIDC Discovery metadata validators)
   2. client credentials, access token verified against the JWKS (ES256, at+jwt)
   3. authorization code + PKCE S256, login and consent forms filled over HTTP
   4. ID token (signature, iss, aud, nonce, exp, at_hash) as authlib's OIDC client does
   5. userinfo
   6. refresh with rotation
   7. introspection
   8. revocation, then introspection again

and beyond those: client_secret_post, code replay, authlib's automatic refresh of an
expired token, refresh-token reuse detection, scope narrowing on refresh, a refused
refresh, consent denied.

Prints one line per check (`ok   NAME: what`, or `FAIL NAME: why` with the last HTTP
exchanges below it) and ends with `interop: N passed, M failed`; exits 1 on any failure.
A check marked with a known Latchkey bug prints `xfail` while the bug is there and is
not counted (see Runner; INTEROP_STRICT=1 counts it as a failure). Talks only to
127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import authlib
import joserfc
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oauth2.rfc9068.claims import JWTAccessTokenClaims
from authlib.oauth2.rfc9207 import AuthorizationServerMetadata as IssParameterMetadata
from authlib.oidc.core import CodeIDToken, UserInfo
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

HERE = Path(__file__).resolve().parent
OVERALL_TIMEOUT = int(os.environ.get("INTEROP_TIMEOUT", "240"))  # seconds for the whole run, startup included
HTTP_TIMEOUT = 15  # seconds for any one HTTP request
REDIRECT_URI = "http://127.0.0.1:8765/callback"
WEB_SCOPE = "openid profile email notes:read"
USERNAME = "alice"
PASSWORD = "interop-" + secrets.token_urlsafe(12)


class CheckFailed(Exception):
    pass


class OverallTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so that no check swallows it."""


def expect(cond, message):
    if not cond:
        raise CheckFailed(message)


# --------------------------------------------------------------------------------------
# HTTP exchange log, printed under a failed check.


class Exchanges:
    def __init__(self):
        self.items: list[requests.Response] = []

    def hook(self, resp, *args, **kwargs):
        self.items.append(resp)
        return resp

    def attach(self, session: requests.Session) -> requests.Session:
        session.hooks["response"].append(self.hook)
        return session

    def reset(self):
        self.items.clear()

    def dump(self, last=4) -> str:
        out = []
        for resp in self.items[-last:]:
            req = resp.request
            out.append(f"    > {req.method} {req.url}")
            for k in ("Authorization", "Content-Type", "Cookie"):
                if k in req.headers:
                    out.append(f"    > {k}: {_short(req.headers[k], 120)}")
            if req.body:
                body = req.body.decode() if isinstance(req.body, bytes) else str(req.body)
                out.append(f"    > {_short(body, 600)}")
            out.append(f"    < {resp.status_code} {resp.reason}")
            for k in ("Location", "Content-Type", "WWW-Authenticate", "Cache-Control"):
                if k in resp.headers:
                    out.append(f"    < {k}: {_short(resp.headers[k], 300)}")
            if resp.text and "html" not in resp.headers.get("Content-Type", ""):
                out.append(f"    < {_short(resp.text, 800)}")
        return "\n".join(out)


def _short(s: str, n: int) -> str:
    s = s.replace("\n", "\\n")
    return s if len(s) <= n else s[:n] + f"... ({len(s)} chars)"


EXCHANGES = Exchanges()


# --------------------------------------------------------------------------------------
# Checks: one line each, in order; a check whose prerequisite failed fails as "not run".


class Runner:
    """Runs the checks in order. A check whose prerequisite failed fails as "not run".

    A check given `known_bug` is one that fails today because of a Latchkey bug already
    reported: its failure prints as `xfail` (with the same detail as a FAIL) and counts
    neither way, while its passing fails the run, so the marker goes once Latchkey is
    fixed. INTEROP_STRICT=1 counts such failures as failures."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.xfailed: list[str] = []
        self.done: dict[str, bool] = {}
        self.strict = os.environ.get("INTEROP_STRICT") == "1"

    def check(self, name, what, fn, needs=(), known_bug=None):
        missing = [n for n in needs if not self.done.get(n)]
        if missing:
            self.failed += 1
            self.done[name] = False
            print(f"FAIL {name}: not run (needs {', '.join(missing)})", flush=True)
            return None
        EXCHANGES.reset()
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the run
            self.done[name] = False
            detail = f"{type(exc).__name__}: {exc}" if not isinstance(exc, CheckFailed) else str(exc)
            if known_bug and not self.strict:
                self.xfailed.append(name)
                print(f"xfail {name}: {detail}", flush=True)
                print(f"    known Latchkey bug: {known_bug}", flush=True)
            else:
                self.failed += 1
                print(f"FAIL {name}: {detail}", flush=True)
            if not isinstance(exc, (CheckFailed, OAuthError)):
                tb = traceback.format_exc().rstrip().splitlines()
                print("\n".join("    " + line for line in tb[-6:]), flush=True)
            if EXCHANGES.items:
                print(EXCHANGES.dump(), flush=True)
            return None
        self.done[name] = True
        if known_bug:
            self.failed += 1
            print(f"FAIL {name}: passed, but is marked as the known Latchkey bug {known_bug!r}; "
                  "remove known_bug from this check", flush=True)
            return result
        self.passed += 1
        print(f"ok   {name}: {what}", flush=True)
        return result


# --------------------------------------------------------------------------------------
# The server under test.


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Latchkey:
    def __init__(self, binary: Path):
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="latchkey-interop-"))
        self.env = dict(os.environ, LATCHKEY_LOG="warn")
        self.proc: subprocess.Popen | None = None
        self.log_path = self.dir / "serve.log"
        self.issuer = ""

    def cli(self, *args: str, stdin: str | None = None) -> dict:
        res = subprocess.run(
            [str(self.binary), *args],
            cwd=self.dir,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if res.returncode != 0:
            raise RuntimeError(f"latchkey {' '.join(args)} exited {res.returncode}: {res.stderr.strip()}")
        return json.loads(res.stdout)

    def start(self):
        port = free_port()
        self.issuer = f"http://127.0.0.1:{port}"
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--listen", f"127.0.0.1:{port}"],
            cwd=self.dir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"latchkey serve exited {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.issuer}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"latchkey serve did not answer /healthz in 30 s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------------
# A browser without a browser: the login and consent forms, filled over HTTP.


class FormParser(HTMLParser):
    """Collects <form>s with their inputs and submit buttons (attribute values come
    out of HTMLParser already unescaped)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(), "inputs": {}, "buttons": []}
            self.forms.append(self._form)
        elif self._form is not None and tag == "input" and "name" in a:
            if a.get("type", "text").lower() in ("submit", "button"):
                self._form["buttons"].append((a["name"], a.get("value", "")))
            else:
                self._form["inputs"][a["name"]] = a.get("value", "")
        elif self._form is not None and tag == "button" and "name" in a:
            self._form["buttons"].append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def only_form(html: str, containing: str) -> dict:
    p = FormParser()
    p.feed(html)
    forms = [f for f in p.forms if containing in f["inputs"] or any(b[0] == containing for b in f["buttons"])]
    expect(len(forms) == 1, f"expected one form with {containing!r}, found {len(forms)} among {len(p.forms)}")
    return forms[0]


def is_redirect(resp) -> bool:
    return resp.status_code in (302, 303) and "Location" in resp.headers


def browser_authorize(auth_url: str, expect_consent: bool = True, decision: str = "allow") -> str:
    """Signs in and allows, from the authorization URL to the client's redirect (whose
    Location is returned, not followed). Without expect_consent, a request within scopes
    the user already allowed may skip the consent page."""
    b = EXCHANGES.attach(requests.Session())
    b.headers["Accept"] = "text/html"
    r = b.get(auth_url, allow_redirects=False, timeout=HTTP_TIMEOUT)
    expect(is_redirect(r), f"authorization request: expected a redirect to /login, got {r.status_code}")
    login_url = urljoin(auth_url, r.headers["Location"])
    expect(urlsplit(login_url).path == "/login", f"unauthenticated redirect went to {login_url}")

    r = b.get(login_url, allow_redirects=False, timeout=HTTP_TIMEOUT)
    expect(r.status_code == 200, f"login page: {r.status_code}")
    form = only_form(r.text, "password")
    expect("csrf_token" in form["inputs"], "login form has no csrf_token")
    expect("return_to" in form["inputs"], "login form has no return_to")
    expect(any(c.name == "latchkey_csrf" for c in b.cookies), f"no latchkey_csrf cookie: {list(b.cookies.keys())}")
    data = dict(form["inputs"], username=USERNAME, password=PASSWORD)
    r = b.post(urljoin(login_url, form["action"] or login_url), data=data, allow_redirects=False, timeout=HTTP_TIMEOUT)
    expect(is_redirect(r), f"login POST: expected a redirect back to the authorization URL, got {r.status_code}")
    back = urljoin(login_url, r.headers["Location"])
    expect(urlsplit(back).path == urlsplit(auth_url).path, f"login redirected to {back}")

    r = b.get(back, allow_redirects=False, timeout=HTTP_TIMEOUT)
    if not expect_consent and is_redirect(r) and r.headers["Location"].startswith(REDIRECT_URI + "?"):
        return r.headers["Location"]
    expect(r.status_code == 200, f"consent page: expected 200, got {r.status_code} {r.headers.get('Location', '')}")
    form = only_form(r.text, "decision")
    expect(("decision", decision) in form["buttons"], f"consent buttons: {form['buttons']}")
    expect("csrf_token" in form["inputs"], "consent form has no csrf_token")
    # The hidden fields carry the request; they must round-trip it unchanged.
    sent = {k: v[0] for k, v in parse_qs(urlsplit(auth_url).query).items()}
    for k, v in sent.items():
        if k in form["inputs"]:
            expect(form["inputs"][k] == v, f"consent form changed {k}: {v!r} -> {form['inputs'][k]!r}")
    data = dict(form["inputs"], decision=decision)
    r = b.post(urljoin(back, form["action"]), data=data, allow_redirects=False, timeout=HTTP_TIMEOUT)
    expect(is_redirect(r), f"consent POST: expected a redirect to the client, got {r.status_code}")
    location = r.headers["Location"]
    expect(location.startswith(REDIRECT_URI + "?"), f"consent redirected to {location}")
    return location


# --------------------------------------------------------------------------------------
# Helpers on tokens.


def b64url_json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_header(token: str) -> dict:
    return b64url_json(token.split(".")[0])


def jwks(session: requests.Session, meta: dict) -> KeySet:
    r = session.get(meta["jwks_uri"], timeout=HTTP_TIMEOUT)
    expect(r.status_code == 200, f"jwks_uri: {r.status_code}")
    return KeySet.import_key_set(r.json())


def verify_access_token(token: str, keys: KeySet, issuer: str, client_id: str, scope: str, sub: str | None):
    """RFC 9068 access token: ES256 signature against the JWKS, typ at+jwt, and claims
    through authlib's JWTAccessTokenClaims."""
    header = jwt_header(token)
    expect(header.get("alg") == "ES256", f"access token alg {header.get('alg')!r}, expected ES256")
    expect(header.get("typ") == "at+jwt", f"access token typ {header.get('typ')!r}, expected at+jwt")
    expect(header.get("kid"), "access token has no kid")
    decoded = jwt.decode(token, keys, algorithms=["ES256"])
    options = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True},
        "sub": {"essential": True} if sub is None else {"essential": True, "value": sub},
        "client_id": {"essential": True, "value": client_id},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "jti": {"essential": True},
        "scope": {"essential": True},
    }
    claims = JWTAccessTokenClaims(decoded.claims, decoded.header, options)
    claims.validate(leeway=30)
    expect(set(claims["scope"].split()) == set(scope.split()), f"access token scope {claims['scope']!r}, expected {scope!r}")
    return claims


def oauth_error(fn):
    """Runs fn and returns the OAuthError it raises (or fails if none)."""
    try:
        fn()
    except OAuthError as exc:
        return exc
    raise CheckFailed("expected an OAuth error, got success")


# --------------------------------------------------------------------------------------
# The test.


def run(t: Runner, server: Latchkey, seed: dict) -> None:
    s: dict = dict(seed)  # state shared between checks: alice, web, svc, post, then what checks find
    issuer = server.issuer
    plain = EXCHANGES.attach(requests.Session())

    # 1. Discovery -----------------------------------------------------------------
    def discovery():
        r = plain.get(f"{issuer}/.well-known/openid-configuration", timeout=HTTP_TIMEOUT)
        expect(r.status_code == 200, f"openid-configuration: {r.status_code}")
        expect(r.headers.get("Content-Type", "").startswith("application/json"), f"Content-Type {r.headers.get('Content-Type')}")
        meta = r.json()
        OpenIDProviderMetadata(meta).validate(metadata_classes=[IssParameterMetadata])
        expect(meta["issuer"] == issuer, f"issuer {meta['issuer']!r} != {issuer!r}")
        for key in (
            "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint",
            "introspection_endpoint", "revocation_endpoint",
        ):
            expect(key in meta, f"metadata has no {key}")
            expect(meta[key].startswith(issuer + "/"), f"{key} {meta[key]!r} is not under the issuer")
        expect("S256" in meta.get("code_challenge_methods_supported", []), "S256 not in code_challenge_methods_supported")
        for gt in ("authorization_code", "refresh_token", "client_credentials"):
            expect(gt in meta["grant_types_supported"], f"{gt} not in grant_types_supported")
        expect("code" in meta["response_types_supported"], "code not in response_types_supported")
        expect("RS256" in meta["id_token_signing_alg_values_supported"], "RS256 not an ID token alg")
        expect(meta.get("authorization_response_iss_parameter_supported") is True, "no RFC 9207 iss parameter")
        for m in ("client_secret_basic", "client_secret_post"):
            expect(m in meta["token_endpoint_auth_methods_supported"], f"{m} not a token endpoint auth method")
        # RFC 8414 metadata: same issuer, same endpoints.
        r = plain.get(f"{issuer}/.well-known/oauth-authorization-server", timeout=HTTP_TIMEOUT)
        expect(r.status_code == 200, f"oauth-authorization-server: {r.status_code}")
        oauth_meta = r.json()
        AuthorizationServerMetadata(oauth_meta).validate()
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
            expect(oauth_meta.get(key) == meta[key], f"RFC 8414 {key} {oauth_meta.get(key)!r} != {meta[key]!r}")
        keys = jwks(plain, meta)
        kinds = sorted(k.key_type for k in keys.keys)
        expect(any(k.key_type == "EC" for k in keys.keys), f"JWKS has no EC key: {kinds}")
        expect(any(k.key_type == "RSA" for k in keys.keys), f"JWKS has no RSA key: {kinds}")
        for k in keys.keys:
            expect(not k.is_private, f"JWKS publishes a private key: {k.kid}")
        s["meta"] = meta
        s["keys"] = keys

    t.check("discovery", "openid-configuration and RFC 8414 metadata valid per authlib; JWKS", discovery)

    # 2. Client credentials ------------------------------------------------------------
    def client_credentials():
        meta, svc = s["meta"], s["svc"]
        client = EXCHANGES.attach(OAuth2Session(svc["client_id"], svc["client_secret"], scope="notes:read", default_timeout=HTTP_TIMEOUT))
        token = client.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
        expect(token.get("token_type", "").lower() == "bearer", f"token_type {token.get('token_type')!r}")
        expect(isinstance(token.get("expires_in"), int) and token["expires_in"] > 0, f"expires_in {token.get('expires_in')!r}")
        expect("refresh_token" not in token, "client credentials issued a refresh token")
        expect(EXCHANGES.items[-1].headers.get("Cache-Control") == "no-store", "token response without Cache-Control: no-store")
        verify_access_token(token["access_token"], s["keys"], issuer, svc["client_id"], "notes:read", sub=None)
        s["svc_token"] = token

    t.check("client_credentials", "fetch_token; access token ES256 at+jwt verified with the JWKS (iss, aud, scope)", client_credentials, ["discovery"])

    def client_credentials_post():
        meta, post = s["meta"], s["post"]
        client = EXCHANGES.attach(OAuth2Session(
            post["client_id"], post["client_secret"], scope="notes:read",
            token_endpoint_auth_method="client_secret_post",
            revocation_endpoint_auth_method="client_secret_post",
            default_timeout=HTTP_TIMEOUT,
        ))
        token = client.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
        verify_access_token(token["access_token"], s["keys"], issuer, post["client_id"], "notes:read", sub=None)
        r = client.introspect_token(meta["introspection_endpoint"], token=token["access_token"], token_type_hint="access_token")
        expect(r.status_code == 200 and r.json().get("active") is True, f"introspection via client_secret_post: {r.status_code} {r.text}")
        # A client_secret_post client sending Basic is refused (only its registered method).
        wrong = EXCHANGES.attach(OAuth2Session(post["client_id"], post["client_secret"], scope="notes:read", default_timeout=HTTP_TIMEOUT))
        err = oauth_error(lambda: wrong.fetch_token(meta["token_endpoint"], grant_type="client_credentials"))
        expect(err.error == "invalid_client", f"basic auth for a client_secret_post client: {err.error}")

    t.check("client_secret_post", "client credentials and introspection with client_secret_post; Basic refused for it", client_credentials_post, ["discovery"])

    # 3. Authorization code + PKCE -------------------------------------------------------
    def code_flow():
        meta, web = s["meta"], s["web"]
        client = EXCHANGES.attach(OAuth2Session(
            web["client_id"], web["client_secret"], scope=WEB_SCOPE, redirect_uri=REDIRECT_URI,
            code_challenge_method="S256", default_timeout=HTTP_TIMEOUT,
        ))
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
        q = parse_qs(urlsplit(url).query)
        expect(q.get("code_challenge_method") == ["S256"] and q.get("code_challenge"), f"authorization URL without PKCE: {url}")
        location = browser_authorize(url)
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        expect("error" not in params, f"authorization error: {params}")
        expect(params.get("state") == state, f"state {params.get('state')!r} != {state!r}")
        expect(params.get("iss") == issuer, f"RFC 9207 iss {params.get('iss')!r} != {issuer!r}")
        token = client.fetch_token(meta["token_endpoint"], authorization_response=location, code_verifier=verifier, state=state)
        expect(token.get("token_type", "").lower() == "bearer", f"token_type {token.get('token_type')!r}")
        for k in ("access_token", "refresh_token", "id_token", "expires_in"):
            expect(k in token, f"token response has no {k}: {sorted(token)}")
        expect(set(token.get("scope", WEB_SCOPE).split()) == set(WEB_SCOPE.split()), f"granted scope {token.get('scope')!r}")
        s.update(client=client, token=dict(token), nonce=nonce, code=params["code"], verifier=verifier)
        # The user's sub, from the access token (verified against the JWKS).
        claims = verify_access_token(token["access_token"], s["keys"], issuer, web["client_id"], WEB_SCOPE, sub=s["alice"]["sub"])
        s["at_claims"] = claims

    t.check("code_flow", "authorization code + PKCE S256; login and consent over HTTP; fetch_token(authorization_response=...)", code_flow, ["discovery"])

    def code_reuse():
        meta, client = s["meta"], s["client"]
        err = oauth_error(lambda: client.fetch_token(
            meta["token_endpoint"], grant_type="authorization_code", code=s["code"], code_verifier=s["verifier"]))
        expect(err.error == "invalid_grant", f"second redemption of a code: {err.error}")

    # 4. ID token ------------------------------------------------------------------------
    def id_token():
        meta, web, token = s["meta"], s["web"], s["token"]
        header = jwt_header(token["id_token"])
        expect(header.get("alg") == "RS256", f"ID token alg {header.get('alg')!r}")
        # What authlib's OpenIDMixin.parse_id_token does, with aud made essential too.
        alg_values = meta.get("id_token_signing_alg_values_supported")
        decoded = jwt.decode(token["id_token"], key=s["keys"], registry=JWSRegistry(algorithms=alg_values, strict_check_header=False))
        options = {
            "iss": {"essential": True, "values": [meta["issuer"]]},
            "aud": {"essential": True, "value": web["client_id"]},
        }
        params = {"nonce": s["nonce"], "client_id": web["client_id"], "access_token": token["access_token"]}
        claims = CodeIDToken(decoded.claims, decoded.header, options, params)
        claims.validate(leeway=30)
        expect("at_hash" in claims, "ID token has no at_hash")
        digest = hashlib.sha256(token["access_token"].encode()).digest()
        expect(claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode(), "at_hash mismatch")
        expect(claims["nonce"] == s["nonce"], "nonce mismatch")
        expect(claims["sub"] == s["alice"]["sub"], f"sub {claims['sub']!r} != {s['alice']['sub']!r}")
        expect(claims["exp"] > time.time(), "ID token expired")
        expect(claims["sub"] == s["at_claims"]["sub"], "ID token and access token disagree on sub")
        s["id_claims"] = claims

    t.check("id_token", "RS256 against the JWKS; iss, aud, nonce, exp, at_hash (authlib CodeIDToken)", id_token, ["code_flow"])

    # 5. Userinfo -----------------------------------------------------------------------
    def userinfo():
        meta, client = s["meta"], s["client"]
        r = client.get(meta["userinfo_endpoint"])
        expect(r.status_code == 200, f"userinfo: {r.status_code}")
        expect(r.request.headers.get("Authorization", "").startswith("Bearer "), "authlib did not send a Bearer header")
        info = UserInfo(r.json())
        expect(info.get("sub") == s["alice"]["sub"], f"userinfo sub {info.get('sub')!r}")
        expect(info.get("preferred_username") == USERNAME, f"preferred_username {info.get('preferred_username')!r}")
        expect(info.get("email") == "alice@example.com", f"email {info.get('email')!r}")
        expect(info.get("name") == "Alice Example", f"name {info.get('name')!r}")

    t.check("userinfo", "GET with the Bearer token; sub, preferred_username, email, name", userinfo, ["code_flow"])

    # 6. Refresh ----------------------------------------------------------------------
    def refresh():
        meta, client = s["meta"], s["client"]
        old = s["token"]
        new = dict(client.refresh_token(meta["token_endpoint"], refresh_token=old["refresh_token"]))
        resp = EXCHANGES.items[-1]
        expect(resp.status_code == 200, f"refresh: {resp.status_code}")
        raw = resp.json()
        expect("refresh_token" in raw, "refresh response has no refresh_token (no rotation)")
        expect(raw["refresh_token"] != old["refresh_token"], "refresh token did not rotate")
        expect(raw["access_token"] != old["access_token"], "same access token after refresh")
        verify_access_token(raw["access_token"], s["keys"], issuer, s["web"]["client_id"], WEB_SCOPE, sub=s["alice"]["sub"])
        if "id_token" in raw:
            decoded = jwt.decode(raw["id_token"], key=s["keys"], algorithms=["RS256"])
            c = CodeIDToken(decoded.claims, decoded.header,
                            {"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": s["web"]["client_id"]}},
                            {"client_id": s["web"]["client_id"], "access_token": raw["access_token"]})
            c.validate(leeway=30)
            expect(c["sub"] == s["id_claims"]["sub"], "refreshed ID token has another sub")
        s["old_refresh"] = old["refresh_token"]
        s["token"] = new

    t.check("refresh", "refresh_token(); new access token, refresh token rotated", refresh, ["code_flow"])

    # 7. Introspection --------------------------------------------------------------------
    def introspection():
        meta, client, token = s["meta"], s["client"], s["token"]
        r = client.introspect_token(meta["introspection_endpoint"], token=token["access_token"], token_type_hint="access_token")
        expect(r.status_code == 200, f"introspection: {r.status_code}")
        data = r.json()
        expect(data.get("active") is True, f"access token not active: {data}")
        expect(data.get("client_id") == s["web"]["client_id"], f"client_id {data.get('client_id')!r}")
        expect(set(data.get("scope", "").split()) == set(WEB_SCOPE.split()), f"scope {data.get('scope')!r}")
        expect(data.get("sub") == s["alice"]["sub"], f"sub {data.get('sub')!r}")
        expect(data.get("iss", issuer) == issuer, f"iss {data.get('iss')!r}")
        expect(data.get("token_type", "Bearer").lower() in ("bearer", "access_token"), f"token_type {data.get('token_type')!r}")

    t.check("introspection", "introspect_token(); access token active with client_id, scope, sub", introspection, ["refresh"])

    def introspection_refresh_token():
        # RFC 7662 §2.1: `token` is an access token or a refresh token.
        meta, client, token = s["meta"], s["client"], s["token"]
        r = client.introspect_token(meta["introspection_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token")
        data = r.json()
        expect(r.status_code == 200 and data.get("active") is True, f"live refresh token introspects as {r.status_code} {r.text}")
        expect(data.get("client_id") == s["web"]["client_id"], f"refresh token client_id {data.get('client_id')!r}")
        expect(data.get("sub") == s["alice"]["sub"], f"refresh token sub {data.get('sub')!r}")
        # The rotated-out refresh token is no longer active.
        r = client.introspect_token(meta["introspection_endpoint"], token=s["old_refresh"], token_type_hint="refresh_token")
        expect(r.status_code == 200 and r.json().get("active") is False, f"rotated-out refresh token: {r.status_code} {r.text}")

    t.check("introspection_refresh_token", "introspect_token(refresh token) active with client_id, sub; rotated-out one inactive",
            introspection_refresh_token, ["refresh"])

    # 8. Revocation -----------------------------------------------------------------------
    def revocation():
        meta, client, token = s["meta"], s["client"], s["token"]
        r = client.revoke_token(meta["revocation_endpoint"], token=token["access_token"], token_type_hint="access_token")
        expect(r.status_code == 200, f"revoke access token: {r.status_code} {r.text}")
        r = client.introspect_token(meta["introspection_endpoint"], token=token["access_token"], token_type_hint="access_token")
        expect(r.status_code == 200, f"introspection after revocation: {r.status_code}")
        expect(r.json() == {"active": False}, f"revoked access token introspects as {r.text}")
        r = client.get(meta["userinfo_endpoint"])
        expect(r.status_code == 401, f"userinfo with a revoked token: {r.status_code}")
        r = client.revoke_token(meta["revocation_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token")
        expect(r.status_code == 200, f"revoke refresh token: {r.status_code} {r.text}")
        r = client.introspect_token(meta["introspection_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token")
        expect(r.status_code == 200 and r.json() == {"active": False}, f"revoked refresh token introspects as {r.status_code} {r.text}")
        err = oauth_error(lambda: client.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"]))
        expect(err.error == "invalid_grant", f"refresh with a revoked refresh token: {err.error}")
        # Unknown tokens are 200 too (RFC 7009 §2.2).
        r = client.revoke_token(meta["revocation_endpoint"], token="not-a-token")
        expect(r.status_code == 200, f"revoking an unknown token: {r.status_code} {r.text}")

    t.check("revocation", "revoke_token(), then introspection inactive (access and refresh token)", revocation, ["refresh"])

    t.check("code_reuse", "a second fetch_token() with the same code is invalid_grant", code_reuse, ["code_flow"])

    def service_introspection():
        # A client-credentials token seen by its own client, and revoked by it.
        meta, svc = s["meta"], s["svc"]
        client = EXCHANGES.attach(OAuth2Session(svc["client_id"], svc["client_secret"], default_timeout=HTTP_TIMEOUT))
        at = s["svc_token"]["access_token"]
        r = client.introspect_token(meta["introspection_endpoint"], token=at)
        data = r.json()
        expect(r.status_code == 200 and data.get("active") is True, f"introspection: {r.status_code} {data}")
        expect(data.get("client_id") == svc["client_id"], f"client_id {data.get('client_id')!r}")
        expect(data.get("scope") == "notes:read", f"scope {data.get('scope')!r}")
        r = client.revoke_token(meta["revocation_endpoint"], token=at)
        expect(r.status_code == 200, f"revoke: {r.status_code} {r.text}")
        r = client.introspect_token(meta["introspection_endpoint"], token=at)
        expect(r.status_code == 200 and r.json() == {"active": False}, f"after revocation: {r.status_code} {r.text}")

    t.check("service_tokens", "client-credentials token: introspect_token() active, revoke_token(), then inactive",
            service_introspection, ["client_credentials"])

    # Beyond the list: more of what an authlib application meets. ------------------------
    def web_session(**kwargs) -> OAuth2Session:
        return EXCHANGES.attach(OAuth2Session(
            s["web"]["client_id"], s["web"]["client_secret"], scope=WEB_SCOPE, redirect_uri=REDIRECT_URI,
            code_challenge_method="S256", default_timeout=HTTP_TIMEOUT, **kwargs,
        ))

    def new_grant() -> tuple[OAuth2Session, dict]:
        """A fresh grant for alice (a new login; consent is remembered from code_flow)."""
        client = web_session()
        verifier = secrets.token_urlsafe(48)
        url, state = client.create_authorization_url(s["meta"]["authorization_endpoint"], code_verifier=verifier,
                                                     nonce=secrets.token_urlsafe(16))
        location = browser_authorize(url, expect_consent=False)
        client.fetch_token(s["meta"]["token_endpoint"], authorization_response=location, code_verifier=verifier, state=state)
        return client, dict(client.token)

    def auto_refresh():
        meta = s["meta"]
        _, token = new_grant()
        updates = []
        expired = dict(token, expires_at=int(time.time()) - 10)
        client = web_session(token=expired, token_endpoint=meta["token_endpoint"],
                             update_token=lambda tok, **kw: updates.append((dict(tok), kw)))
        r = client.get(meta["userinfo_endpoint"])  # OAuth2Session refreshes first, by itself
        expect(len(updates) == 1, f"update_token called {len(updates)} times")
        expect(updates[0][1].get("refresh_token") == token["refresh_token"], f"update_token kwargs {updates[0][1]}")
        expect(updates[0][0]["refresh_token"] != token["refresh_token"], "refresh token did not rotate")
        expect(r.status_code == 200 and r.json().get("sub") == s["alice"]["sub"], f"userinfo after auto-refresh: {r.status_code}")

    t.check("auto_refresh", "OAuth2Session refreshes an expired token by itself (update_token), then userinfo",
            auto_refresh, ["code_flow"])

    def refresh_reuse():
        url = s["meta"]["token_endpoint"]
        client, token = new_grant()
        first = dict(client.refresh_token(url, refresh_token=token["refresh_token"]))
        # Presented again at once (a retry, a second tab): a sibling in the same grant.
        sibling = dict(client.refresh_token(url, refresh_token=token["refresh_token"]))
        expect(sibling["refresh_token"] != first["refresh_token"], "the sibling repeats the first rotation's token")
        time.sleep(6)  # past the 5 s grace window
        err = oauth_error(lambda: client.refresh_token(url, refresh_token=token["refresh_token"]))
        expect(err.error == "invalid_grant", f"reuse after the grace window: {err.error}")
        for label, tok in (("first", first), ("sibling", sibling)):
            err = oauth_error(lambda: client.refresh_token(url, refresh_token=tok["refresh_token"]))
            expect(err.error == "invalid_grant", f"{label} refresh token after reuse detection: {err.error}")
            r = client.introspect_token(s["meta"]["introspection_endpoint"], token=tok["access_token"])
            expect(r.status_code == 200 and r.json() == {"active": False}, f"{label} access token after reuse detection: {r.text}")

    t.check("refresh_reuse", "reuse within 5 s gets a sibling; after it, invalid_grant and the whole grant revoked",
            refresh_reuse, ["code_flow"])

    def scope_narrowing():
        url = s["meta"]["token_endpoint"]
        client, token = new_grant()
        narrowed = dict(client.refresh_token(url, refresh_token=token["refresh_token"], scope="openid notes:read"))
        expect(set(narrowed.get("scope", "").split()) == {"openid", "notes:read"}, f"narrowed scope {narrowed.get('scope')!r}")
        verify_access_token(narrowed["access_token"], s["keys"], issuer, s["web"]["client_id"], "openid notes:read",
                            sub=s["alice"]["sub"])
        # authlib's refresh_token() (and so its automatic refresh) sends the session's scope,
        # here the whole original grant, which RFC 6749 §6 allows ("MUST NOT include any
        # scope not originally granted by the resource owner").
        again = dict(client.refresh_token(url))
        expect(set(again.get("scope", "").split()) == set(WEB_SCOPE.split()), f"scope after refresh {again.get('scope')!r}")

    t.check("scope_narrowing", "refresh_token(scope=narrower), then authlib's default refresh with the original scope",
            scope_narrowing, ["code_flow"])

    def refused_refresh():
        url = s["meta"]["token_endpoint"]
        client, token = new_grant()
        err = oauth_error(lambda: client.refresh_token(url, refresh_token=token["refresh_token"], scope=WEB_SCOPE + " notes:write"))
        expect(err.error == "invalid_scope", f"refresh asking for a scope never granted: {err.error}")
        # An error response issues nothing (RFC 6749 §5.2), so the client still holds, and
        # later presents, the same refresh token: it must still work, past the grace window.
        time.sleep(6)
        again = dict(client.refresh_token(url, refresh_token=token["refresh_token"]))
        expect(again.get("refresh_token") not in (None, token["refresh_token"]), "no rotation")

    t.check("refused_refresh", "a refresh refused with invalid_scope leaves the refresh token usable (retried after 6 s)",
            refused_refresh, ["code_flow"])

    def consent_deny():
        meta = s["meta"]
        client = web_session()
        url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=secrets.token_urlsafe(48),
                                                     nonce=secrets.token_urlsafe(16), prompt="consent")
        location = browser_authorize(url, decision="deny")
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        expect(params.get("error") == "access_denied", f"deny redirected with {params}")
        expect("code" not in params, "deny redirected with a code")
        expect(params.get("state") == state, f"state {params.get('state')!r} != {state!r}")
        expect(params.get("iss") == issuer, f"RFC 9207 iss {params.get('iss')!r}")

    t.check("consent_deny", "prompt=consent, Deny: redirect with error=access_denied, state and iss",
            consent_deny, ["code_flow"])


def main() -> int:
    binary = Path(os.environ.get("LATCHKEY_BIN") or HERE / ".." / "target" / "debug" / "latchkey").resolve()
    if not os.access(binary, os.X_OK):
        print(f"interop: no latchkey binary at {binary} (set LATCHKEY_BIN or run cargo build -p latchkey)", file=sys.stderr)
        print("interop: 0 passed, 1 failed")
        return 1

    def on_alarm(signum, frame):
        raise OverallTimeout(f"interop run took over {OVERALL_TIMEOUT} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.alarm(OVERALL_TIMEOUT)
    print(f"interop: authlib {authlib.__version__}, joserfc {getattr(joserfc, '__version__', '?')}, requests {requests.__version__}, python {sys.version.split()[0]}")
    server = Latchkey(binary)
    t = Runner()
    setup_failed = 0
    try:
        alice = server.cli("user", "create", "--username", USERNAME, "--password-stdin", "--email", "alice@example.com",
                           "--name", "Alice Example", "--json", stdin=PASSWORD + "\n")
        web = server.cli("client", "create", "--name", "Py Web", "--grant-type", "authorization_code", "--grant-type",
                         "refresh_token", "--redirect-uri", REDIRECT_URI, "--scope", "openid", "--scope", "profile",
                         "--scope", "email", "--scope", "notes:read", "--json")
        svc = server.cli("client", "create", "--name", "Py Service", "--scope", "notes:read", "--json")
        post = server.cli("client", "create", "--name", "Py Service (post)", "--scope", "notes:read",
                          "--auth-method", "client_secret_post", "--json")
        server.start()
        print(f"interop: latchkey serving {server.issuer}")
        run(t, server, dict(alice=alice, web=web, svc=svc, post=post))
    except (Exception, OverallTimeout) as exc:  # noqa: BLE001
        setup_failed += 1
        print(f"FAIL setup or run: {type(exc).__name__}: {exc}")
        traceback.print_exc()
    finally:
        signal.alarm(0)
        if server.proc and server.proc.poll() is not None:
            print(f"FAIL latchkey serve died (exit {server.proc.returncode}):\n{server.log()}")
            setup_failed += 1
        log = server.log()
        if (t.failed or setup_failed) and log.strip():
            print("latchkey serve log (tail):\n" + "\n".join("    " + l for l in log.splitlines()[-30:]))
        server.stop()
    passed, failed = t.passed, t.failed + setup_failed
    if t.xfailed:
        print(f"interop: {len(t.xfailed)} known Latchkey bugs still there (xfail, not counted): {', '.join(t.xfailed)}")
    print(f"interop: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
