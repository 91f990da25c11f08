"""Configuration errors are caught by `nginx -t`."""

import pytest

from harness import DEFAULT_AUTH, Nginx


def nginx_t(tmp_path, location="", auth=None):
    return Nginx(tmp_path, location=location, auth=auth).test_config()


def test_valid_configuration_passes_nginx_t(tmp_path):
    rc, err = nginx_t(tmp_path, location="chat_heartbeat 10s; chat_max_message 2k; "
                                         "chat_jwt_leeway 5s; chat_send_budget 32k;")
    assert rc == 0, err


@pytest.mark.parametrize("auth,location,needle", [
    pytest.param(DEFAULT_AUTH, "chat_jwt_algorithm HS999;", "HS999", id="bad_algorithm"),
    pytest.param(DEFAULT_AUTH, "chat_heartbeat abc;", None, id="bad_heartbeat"),
    pytest.param(DEFAULT_AUTH, "chat_max_message 0;", None, id="zero_max_message"),
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
