"""Credentials are read from a value, an environment variable or a file, and never shown."""

from __future__ import annotations

import pickle

import pytest

import tokenprice
from tokenprice._secrets import MASK, Secret, redact, redact_url, redacted_error, secret

VALUE = "cf-Tok3n/with+odd=chars"


def test_a_secret_never_shows_its_value() -> None:
    s = Secret(VALUE, "env CF_API_TOKEN")
    for shown in (str(s), repr(s), f"{s}", f"{s!r}", f"{[s]}", f"{ {'token': s} }"):
        assert VALUE not in shown
        assert MASK in shown
    assert "env CF_API_TOKEN" in repr(s)
    assert s.reveal() == VALUE
    # Engines ship options to workers: it survives pickling, still hidden.
    back = pickle.loads(pickle.dumps(s))
    assert back == s and back.reveal() == VALUE and VALUE not in repr(back)


def test_exactly_one_source(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TP_TEST_TOKEN", VALUE)
    assert secret(env="TP_TEST_TOKEN").reveal() == VALUE
    assert secret(env="TP_TEST_TOKEN").origin == "env TP_TEST_TOKEN"
    f = tmp_path / "token"
    f.write_text(VALUE + "\n")
    assert secret(file=f).reveal() == VALUE  # the trailing newline is not part of it
    assert secret(VALUE).reveal() == VALUE
    given = Secret(VALUE)
    assert secret(given) is given
    with pytest.raises(tokenprice.InvalidArgumentError, match="exactly one.*value, env"):
        secret(VALUE, env="TP_TEST_TOKEN")
    with pytest.raises(tokenprice.InvalidArgumentError, match="got none"):
        secret()


def test_missing_sources_name_the_place_not_the_value(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("TP_TEST_MISSING", raising=False)
    with pytest.raises(
        tokenprice.InvalidArgumentError, match="the API token: the environment variable TP_TEST_MISSING"
    ):
        secret(env="TP_TEST_MISSING", what="the API token")
    with pytest.raises(tokenprice.InvalidArgumentError, match=r"cannot read the file .*nope"):
        secret(file=tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(tokenprice.InvalidArgumentError, match="is empty"):
        secret(file=empty)
    with pytest.raises(tokenprice.InvalidTypeError):
        Secret(123)  # type: ignore[arg-type]


def test_redact_removes_plain_and_url_quoted_values() -> None:
    s = Secret(VALUE)
    text = f"GET https://x/?token=cf-Tok3n%2Fwith%2Bodd%3Dchars failed; header Bearer {VALUE}; form cf-Tok3n%2Fwith%2Bodd%3Dchars"
    out = redact(text, [s, None, ""])
    assert VALUE not in out and "cf-Tok3n%2F" not in out
    assert out.count(MASK) == 3
    # A value that contains another is masked whole.
    assert redact("abcdef", ["abc", "abcdef"]) == MASK
    # A SAS token's signature, in a URL whose client wrote the parameters in another order (Azure's C++ SDK sorts
    # them), quoted once more, or decoded; its other parameters (not credentials) stay.
    sas = Secret("sv=2024-11-04&sp=rl&sig=S1GN4TURE%2Fx%3D")
    sent = "http://h/acct/logs?sig=S1GN4TURE%2Fx%3D&sp=rl&sv=2024-11-04 S1GN4TURE%252Fx%253D S1GN4TURE/x="
    assert redact(sent, [sas]) == f"http://h/acct/logs?sig={MASK}&sp=rl&sv=2024-11-04 {MASK} {MASK}"


def test_redact_removes_values_quoted_as_an_error_body_would() -> None:
    """An error body that echoes the request (a 401 quoting its headers as JSON, an HTML error page, a Python
    repr in a message) writes a token with a quote or a backslash escaped: masked in each form."""
    token = 'cfT0k"en\\Secr\u00e9t<42>'
    import html
    import json

    quoted = [json.dumps(token)[1:-1], json.dumps(token, ensure_ascii=False)[1:-1], repr(token)[1:-1]]
    # An AWS secret key holds "/", which PHP's and Java's JSON encoders write as "\/".
    key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert redact('{"key": "' + json.dumps(key)[1:-1].replace("/", "\\/") + '"}', [Secret(key)]) == '{"key": "***"}'
    for form in [*quoted, html.escape(token)]:
        body = '{"error": "bad header Authorization: Bearer ' + form + '"}'
        out = redact(body, [Secret(token)])
        assert "T0k" not in out and MASK in out, (form, out)


def test_redact_url() -> None:
    assert (
        redact_url("postgresql://litellm:s3cr%40t@127.0.0.1:5432/db")
        == f"postgresql://litellm:{MASK}@127.0.0.1:5432/db"
    )
    assert redact_url("postgresql://litellm@host/db") == "postgresql://litellm@host/db"
    signed = redact_url("https://b.s3.amazonaws.com/k.gz?X-Amz-Signature=abcd&X-Amz-Credential=AKIA/x&part=2&sig=zz")
    assert "abcd" not in signed and "AKIA" not in signed and "zz" not in signed
    assert "part=2" in signed
    # A password with a "/" written unquoted (an AWS secret key): a URL parser takes the host part to end at it.
    assert redact_url("s3://AKID:s3cr3t/Key+Value@/x") == f"s3://AKID:{MASK}@/x"
    assert redact_url("postgresql://u:p/w?d#x@host/db") == f"postgresql://u:{MASK}@host/db"


def test_a_foreign_error_becomes_ours_without_the_value() -> None:
    foreign = ConnectionError(f"auth failed for {VALUE}")
    ours = redacted_error(foreign, [Secret(VALUE)], "pulling page 3 of gateway g1")
    assert isinstance(ours, tokenprice.InputError)
    assert str(ours) == f"pulling page 3 of gateway g1: ConnectionError: auth failed for {MASK}"
