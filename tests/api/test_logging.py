"""JSON log lines: one object per line, request context attached, secrets redacted."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from api.logging import (
    _PATTERNS,
    REDACTED,
    JsonFormatter,
    LogContext,
    Redactor,
    request_log_context,
)

KEY = "ck_live_" + "A1b2C3d4" * 5
WEBHOOK_SECRET = "whsec_c2VjcmV0LXZhbHVlLWZvci10ZXN0cw=="


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("payouts.test", logging.INFO, __file__, 1, message, args, None)
    entry.__dict__.update(extra)
    return entry


def formatted(entry: logging.LogRecord, secrets: tuple[str, ...] = ()) -> dict[str, object]:
    line = JsonFormatter(Redactor(secrets)).format(entry)
    assert "\n" not in line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def test_api_keys_and_webhook_secrets_are_redacted() -> None:
    entry = formatted(record("key %s secret %s", KEY, WEBHOOK_SECRET))
    assert entry["message"] == f"key {REDACTED} secret {REDACTED}"


def test_long_digit_runs_and_ssn_shapes_are_redacted_but_short_numbers_kept() -> None:
    entry = formatted(record("acct 000123456789 ssn 123-45-6789 amount 2500 port 8000"))
    assert entry["message"] == f"acct {REDACTED} ssn {REDACTED} amount 2500 port 8000"


def test_bearer_tokens_and_configured_secrets_are_redacted() -> None:
    entry = formatted(
        record("auth Bearer abc.def-ghi and my-own-secret-value"),
        secrets=("my-own-secret-value",),
    )
    assert entry["message"] == f"auth {REDACTED} and {REDACTED}"


def test_time_leads_the_line_and_request_fields_are_still_redacted() -> None:
    token = request_log_context.set(LogContext(request_id=f"req {KEY}", operation="12345678"))
    try:
        line = JsonFormatter(Redactor()).format(record("GET /graphql 200", status=200))
    finally:
        request_log_context.reset(token)
    assert line.startswith('{"time":"')
    entry = json.loads(line)
    assert entry["request_id"] == f"req {REDACTED}"
    assert entry["operation"] == REDACTED
    assert entry["status"] == 200 and entry["level"] == "INFO"
    assert str(entry["time"]).endswith("+00:00")


@pytest.mark.parametrize(
    "text",
    [
        "BEARER tok.en",
        "x bearer\tabc",
        "ssn 123-45-6789.",
        "1234567",
        "12345678",
        "a-12345678",
        "ck_test_abc whsec_x",
        "2026-11-25T07:49:09.002+00:00 123-45-678",
        "nothing here",
    ],
)
def test_pre_checks_never_change_what_is_redacted(text: str) -> None:
    expected = text
    for pattern in _PATTERNS:
        expected = pattern.sub(REDACTED, expected)
    assert Redactor()(text) == expected


def test_sensitive_extras_are_dropped_and_others_kept() -> None:
    entry = formatted(
        record("verification", id_number="123", tax_id="9", api_key="k", payout_id="po_1")
    )
    assert entry["id_number"] == entry["tax_id"] == entry["api_key"] == REDACTED
    assert entry["payout_id"] == "po_1"


def test_exceptions_are_one_line_and_redacted() -> None:
    try:
        raise ValueError(f"bad key {KEY}")
    except ValueError:
        import sys

        entry = record("failed")
        entry.exc_info = sys.exc_info()
    parsed = formatted(entry)
    assert "ValueError" in str(parsed["exception"])
    assert KEY not in json.dumps(parsed)


def test_request_context_is_attached() -> None:
    token = request_log_context.set(
        LogContext(request_id="req_1", organization_id="org_1", operation="Viewer")
    )
    try:
        entry = formatted(record("hello"))
    finally:
        request_log_context.reset(token)
    assert (entry["request_id"], entry["organization_id"], entry["operation"]) == (
        "req_1",
        "org_1",
        "Viewer",
    )


def test_kyc_variables_sent_by_tests_are_remembered_for_the_hygiene_check() -> None:
    from tests.support.sensitive import SENSITIVE_VALUES, remember_sensitive_fields

    remember_sensitive_fields(
        {
            "input": {
                "individual": {"idNumber": "111222333", "name": "Ada"},
                "bank": [{"accountNumber": "000123456789", "last4": "6789"}],
            }
        }
    )
    assert {"111222333", "000123456789"} <= SENSITIVE_VALUES
    assert "Ada" not in SENSITIVE_VALUES and "6789" not in SENSITIVE_VALUES


def test_log_scan_finds_planted_keys_secrets_and_non_json_lines(tmp_path: Path) -> None:
    from tests.support.sensitive import scan_logs

    log = tmp_path / "server.log"
    planted_key = "ck_test_" + "Q" * 40
    log.write_text(
        "Payouts GraphQL API: http://127.0.0.1:1/graphql\n"
        "Created 'Demo Organization'. Its test key (shown once, keep it):\n"
        f"    {'ck_test_' + 'D' * 40}\n"
        '{"message": "fine"}\n'
        f'{{"message": "oops {planted_key}"}}\n'
        '{"message": "kyc 111222333444"}\n'
        "Traceback (most recent call last):\n"
        '{"message": "killed mid-wri'
    )
    leaks, not_json = scan_logs([log], {"111222333444"})
    assert [leak.split(": ", 1)[0] for leak in leaks] == [f"{log}:5", f"{log}:6"]
    assert not_json == [f"{log}:7: Traceback (most recent call last):"]
