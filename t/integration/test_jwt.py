"""JWT checks at the handshake: signature, algorithm, claims, leeway,
issuer/audience, length, RS256/ES256 keys and algorithm confusion."""

import hashlib
import secrets

import pytest

from harness import SECRET, claims, make_keypair, now, raw_token, token
from wsclient import RawWS, handshake_status


def status_with(server, tok):
    return handshake_status(server.port, token=tok).status


def assert_refused_401(server, tok):
    resp = handshake_status(server.port, token=tok)
    assert resp.status == 401, resp
    assert 'Bearer error="invalid_token"' in (resp.header("WWW-Authenticate") or "")


def test_valid_token_is_accepted_and_names_the_user(server):
    with RawWS.connect(server.port, token=token("jwt.user-1@x_y")) as ws:
        assert ws.hello["user"] == "jwt.user-1@x_y"


def test_no_token_is_refused_401_with_www_authenticate(server):
    resp = handshake_status(server.port)
    assert resp.status == 401
    assert 'Bearer error="invalid_token"' in resp.header("WWW-Authenticate")


@pytest.mark.parametrize("tok", [
    pytest.param(lambda: token(exp_in=-3600), id="expired"),
    pytest.param(lambda: token(key=SECRET + "x"), id="bad_signature"),
    pytest.param(lambda: token()[:-4] + "AAAA", id="mangled_signature"),
    pytest.param(lambda: raw_token({"alg": "none", "typ": "JWT"}, claims()),
                 id="alg_none"),
    pytest.param(lambda: raw_token({"alg": "none", "typ": "JWT"}, claims(),
                                   hmac_key=SECRET), id="alg_none_with_signature"),
    pytest.param(lambda: token(alg="HS512"), id="alg_HS512"),
    pytest.param(lambda: raw_token({"alg": "HS512", "typ": "JWT"}, claims(),
                                   hmac_key=SECRET, digest=hashlib.sha256),
                 id="header_HS512_signed_HS256"),
    pytest.param(lambda: token(drop=("exp",)), id="missing_exp"),
    pytest.param(lambda: token(nbf=now() + 120), id="nbf_in_future"),
    pytest.param(lambda: token(iat=now() + 120), id="iat_in_future"),
    pytest.param(lambda: token("bad user!"), id="sub_invalid"),
    pytest.param(lambda: token("u" * 65), id="sub_too_long"),
    pytest.param(lambda: token(drop=("sub",)), id="sub_missing"),
    pytest.param(lambda: token(sub=42), id="sub_not_a_string"),
    pytest.param(lambda: "not.a.jwt", id="garbage"),
])
def test_invalid_token_is_refused_401(server, tok):
    assert_refused_401(server, tok())


def test_expired_within_default_leeway_is_accepted(server):
    assert status_with(server, token(exp_in=-10)) == 101


def test_expired_beyond_default_leeway_is_refused_401(server):
    assert_refused_401(server, token(exp_in=-60))


def test_nbf_within_default_leeway_is_accepted(server):
    assert status_with(server, token(nbf=now() + 10)) == 101


def test_token_longer_than_default_max_length_is_refused_401(server):
    long_token = token(pad="p" * 4200)
    assert len(long_token) > 4096
    assert_refused_401(server, long_token)


def test_token_under_default_max_length_is_accepted(server):
    tok = token(pad="p" * 2500)
    assert 3000 < len(tok) < 4096
    assert status_with(server, tok) == 101


def test_leeway_zero_refuses_token_expired_one_second_ago(nginx_factory):
    srv = nginx_factory(location="chat_jwt_leeway 0;")
    assert status_with(srv, token(exp_in=300)) == 101
    assert_refused_401(srv, token(exp_in=-1))


def test_max_length_512_refuses_longer_token(nginx_factory):
    srv = nginx_factory(location="chat_jwt_max_length 512;")
    short, long_ = token(), token(pad="p" * 400)
    assert len(short) <= 512 < len(long_)
    assert status_with(srv, short) == 101
    assert_refused_401(srv, long_)


# ---------------------------------------------------------------- iss / aud

@pytest.fixture
def iss_aud_server(nginx_factory):
    return nginx_factory(location="chat_jwt_issuer chat-test; "
                                  "chat_jwt_audience chat-clients;")


@pytest.mark.parametrize("aud", ["chat-clients", ["other", "chat-clients"]],
                         ids=["string", "list"])
def test_configured_issuer_and_audience_accepted(iss_aud_server, aud):
    tok = token(iss="chat-test", aud=aud)
    assert status_with(iss_aud_server, tok) == 101


@pytest.mark.parametrize("kw", [
    pytest.param({"iss": "other", "aud": "chat-clients"}, id="wrong_iss"),
    pytest.param({"aud": "chat-clients"}, id="missing_iss"),
    pytest.param({"iss": "chat-test", "aud": "other"}, id="wrong_aud"),
    pytest.param({"iss": "chat-test", "aud": ["a", "b"]}, id="wrong_aud_list"),
    pytest.param({"iss": "chat-test"}, id="missing_aud"),
])
def test_configured_issuer_or_audience_mismatch_refused_401(iss_aud_server, kw):
    assert_refused_401(iss_aud_server, token(**kw))


# ---------------------------------------------------------------- RS256 / ES256

@pytest.mark.parametrize("alg,kind", [("RS256", "rsa"), ("ES256", "ec")])
def test_asymmetric_key_accepts_signed_and_refuses_confusion(
        nginx_factory, tmp_path, alg, kind):
    private, public = make_keypair(tmp_path, kind)
    srv = nginx_factory(auth="chat_jwt_algorithm %s; chat_jwt_key_file %s;"
                        % (alg, public))
    with RawWS.connect(srv.port, token=token("keyed", key=private, alg=alg)) as ws:
        assert ws.hello["user"] == "keyed"
    # algorithm confusion: HS256 keyed with the public key PEM
    confused = raw_token({"alg": "HS256", "typ": "JWT"}, claims("keyed"),
                         hmac_key=public.read_bytes())
    assert_refused_401(srv, confused)
    # and a token signed by another key pair
    (tmp_path / "other").mkdir()
    other_private, _ = make_keypair(tmp_path / "other", kind)
    assert_refused_401(srv, token("keyed", key=other_private, alg=alg))
    # and the secret-keyed kind of token this server does not take
    assert_refused_401(srv, token("keyed"))


# ---------------------------------------------------------------- HS256 secret file

def test_hs256_secret_from_key_file_without_its_line_end(nginx_factory, tmp_path):
    secret = secrets.token_urlsafe(32)
    path = tmp_path / "chat-jwt.secret"
    path.write_text(secret + "\r\n")
    path.chmod(0o600)
    srv = nginx_factory(auth="chat_jwt_key_file %s;" % path)
    with RawWS.connect(srv.port, token=token("filed", key=secret)) as ws:
        assert ws.hello["user"] == "filed"
    assert_refused_401(srv, token("filed", key=secret + "\r\n"))
    assert_refused_401(srv, token("filed"))          # the inline default's
