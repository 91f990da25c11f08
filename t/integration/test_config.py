"""Configuration errors are caught by `nginx -t`."""

import secrets

import pytest

from harness import DEFAULT_AUTH, REPO, Nginx


def nginx_t(tmp_path, location="", auth=None):
    return Nginx(tmp_path, location=location, auth=auth).test_config()


def test_valid_configuration_passes_nginx_t(tmp_path):
    rc, err = nginx_t(tmp_path, location="chat_heartbeat 10s; chat_max_message 2k; "
                                         "chat_jwt_leeway 5s; chat_send_budget 32k; "
                                         "chat_message_timeout 3s;")
    assert rc == 0, err


@pytest.mark.parametrize("auth,location,needle", [
    pytest.param(DEFAULT_AUTH, "chat_jwt_algorithm HS999;", "HS999", id="bad_algorithm"),
    pytest.param(DEFAULT_AUTH, "chat_heartbeat abc;", None, id="bad_heartbeat"),
    pytest.param(DEFAULT_AUTH, "chat_max_message 0;", None, id="zero_max_message"),
    pytest.param(DEFAULT_AUTH, "chat_message_timeout 500ms;", "between 1s and 1h",
                 id="sub_second_message_timeout"),
    pytest.param(DEFAULT_AUTH, "chat_message_timeout 2h;", "between 1s and 1h",
                 id="long_message_timeout"),
    pytest.param(DEFAULT_AUTH + " chat_jwt_algorithm RS256;", "", None,
                 id="rs256_without_key_file"),
    pytest.param("", "", None, id="chat_on_without_secret_or_key"),
])
def test_bad_configuration_fails_nginx_t_with_emerg(tmp_path, auth, location, needle):
    rc, err = nginx_t(tmp_path, location=location, auth=auth)
    assert rc != 0, err
    assert "[emerg]" in err, err
    if needle:
        assert needle in err, err


# ---------------------------------------------------------------- the HS256 secret

STRONG = secrets.token_urlsafe(32)      # made here: no test ships a usable secret


@pytest.mark.parametrize("secret,needle", [
    pytest.param("short-but-random-Xq8J", "is shorter than 32 bytes", id="short"),
    pytest.param('"CHANGE-ME: 32 or more random bytes, openssl rand -base64 48"',
                 "is a placeholder", id="change_me"),
    pytest.param("ngx-chat-development-secret-not-for-production",
                 "is a placeholder", id="old_development_secret"),
    pytest.param("x" * 40, "fewer than 5 different bytes", id="one_byte_repeated"),
])
def test_weak_inline_secret_fails_nginx_t(tmp_path, secret, needle):
    rc, err = nginx_t(tmp_path, auth="chat_jwt_secret %s;" % secret)
    assert rc != 0, err
    assert "[emerg]" in err and needle in err and '"chat_jwt_secret"' in err, err


def test_weak_secret_outside_a_chat_location_fails_nginx_t(tmp_path):
    """$chat_user verifies tokens in any location with a key: the same rule."""
    n = Nginx(tmp_path, http="chat_jwt_secret too-short;",
              auth="chat_jwt_secret %s;" % STRONG)
    rc, err = n.test_config()
    assert rc != 0 and "is shorter than 32 bytes" in err, err


def test_strong_inline_secret_passes_nginx_t(tmp_path):
    rc, err = nginx_t(tmp_path, auth="chat_jwt_secret %s;" % STRONG)
    assert rc == 0, err
    assert "[warn]" not in err, err


def secret_file(tmp_path, text, mode=0o600):
    path = tmp_path / "chat-jwt.secret"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_secret_file_passes_nginx_t(tmp_path):
    path = secret_file(tmp_path, STRONG + "\n")
    rc, err = nginx_t(tmp_path, auth="chat_jwt_key_file %s;" % path)
    assert rc == 0, err
    assert "[warn]" not in err, err


def test_weak_secret_file_fails_nginx_t_naming_the_file(tmp_path):
    path = secret_file(tmp_path, "CHANGE-ME to 32 or more random bytes, please\n")
    rc, err = nginx_t(tmp_path, auth="chat_jwt_key_file %s;" % path)
    assert rc != 0, err
    assert "[emerg]" in err and str(path) in err and "is a placeholder" in err, err


def test_missing_secret_file_fails_nginx_t(tmp_path):
    rc, err = nginx_t(tmp_path, auth="chat_jwt_key_file %s;" % (tmp_path / "none"))
    assert rc != 0 and "[emerg]" in err and "none" in err, err


def test_secret_file_anyone_may_read_is_warned_about(tmp_path):
    path = secret_file(tmp_path, STRONG, mode=0o644)
    rc, err = nginx_t(tmp_path, auth="chat_jwt_key_file %s;" % path)
    assert rc == 0, err
    assert "[warn]" in err and "anyone may read it" in err, err


def test_secret_from_the_environment_is_checked_too(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAT_TEST_JWT_SECRET", STRONG)
    rc, err = nginx_t(tmp_path / "a", auth="chat_jwt_secret env:CHAT_TEST_JWT_SECRET;")
    assert rc == 0, err
    monkeypatch.setenv("CHAT_TEST_JWT_SECRET", "CHANGE-ME-" + STRONG)
    rc, err = nginx_t(tmp_path / "b", auth="chat_jwt_secret env:CHAT_TEST_JWT_SECRET;")
    assert rc != 0 and "is a placeholder" in err, err


def test_inline_secret_and_secret_file_together_fail_nginx_t(tmp_path):
    path = secret_file(tmp_path, STRONG)
    rc, err = nginx_t(tmp_path, auth="chat_jwt_secret %s; chat_jwt_key_file %s;"
                      % (STRONG, path))
    assert rc != 0 and "keep one" in err, err


def test_example_configuration_ships_no_secret():
    text = (REPO / "nginx.conf.example").read_text()
    assert "chat_jwt_secret" not in text
    assert "chat_jwt_key_file chat-jwt.secret;" in text
def kafka_option_t(tmp_path, option):
    return Nginx(tmp_path, http="chat_kafka_option %s;" % option).test_config()


def test_good_kafka_option_passes_nginx_t(tmp_path):
    rc, err = kafka_option_t(tmp_path, "linger.ms 5")
    assert rc == 0, err


@pytest.mark.parametrize("option,message", [
    # librdkafka's own words, then the line of the directive
    pytest.param("no.such.property 1",
                 'No such configuration property: "no.such.property"', id="unknown"),
    # (librdkafka names an alias by its canonical property)
    pytest.param("linger.ms soon",
                 'Invalid value for configuration property "queue.buffering.max.ms"',
                 id="not_a_number"),
    pytest.param("linger.ms 99999999", "outside allowed range", id="out_of_range"),
    pytest.param("acks none",
                 'Invalid value for configuration property "request.required.acks"',
                 id="bad_enum"),
])
def test_bad_kafka_option_fails_nginx_t_with_librdkafkas_message(tmp_path, option,
                                                                  message):
    rc, err = kafka_option_t(tmp_path, option)
    assert rc != 0, err
    line = next((l for l in err.splitlines() if "[emerg]" in l), "")
    assert 'chat_kafka_option "%s": ' % option.split()[0] in line, err
    assert message in line, err
    assert "nginx.conf:" in line, "the message names the line: " + err


def test_overlong_kafka_option_value_fails_nginx_t(tmp_path):
    rc, err = kafka_option_t(tmp_path, "client.id " + "x" * 1024)
    assert rc != 0, err
    assert "[emerg]" in err and "longer than 1023 bytes" in err, err


def test_kafka_timeout_out_of_librdkafkas_range_fails_nginx_t(tmp_path):
    """chat_kafka_timeout becomes message.timeout.ms: the whole producer
    configuration is tried as nginx reads it, not only chat_kafka_option."""
    rc, err = Nginx(tmp_path, http="chat_kafka_brokers 127.0.0.1:9; "
                                   "chat_kafka_timeout 30d;").test_config()
    assert rc != 0, err
    assert "[emerg]" in err and '"message.timeout.ms"' in err, err
    assert "outside allowed range" in err, err


def test_kafka_brokers_with_good_options_pass_nginx_t(tmp_path):
    rc, err = Nginx(tmp_path, http="chat_kafka_brokers 127.0.0.1:9; "
                                   "chat_kafka_timeout 30s; "
                                   "chat_kafka_option linger.ms 5;").test_config()
    assert rc == 0, err
