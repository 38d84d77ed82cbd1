"""PROFILESYNC_NOTIFY* parsed with the other settings: off by default, every problem at once, no secret quoted."""

from __future__ import annotations

from pathlib import Path

import pytest

from profilesync.config import load_settings
from profilesync.errors import ConfigError
from profilesync.notify.settings import ENV_NAMES, Security, WebhookFormat, When, parse_notify

HOOK = "https://hooks.example.com/services/T000/B000/tokentokentoken"
MAIL = {
    "PROFILESYNC_NOTIFY": "failures",
    "PROFILESYNC_NOTIFY_SMTP_HOST": "smtp.example.org",
    "PROFILESYNC_NOTIFY_SMTP_FROM": "Profilesync <reports@example.org>",
    "PROFILESYNC_NOTIFY_SMTP_TO": "a@example.org; b@example.org,c@example.org",
}


def test_off_by_default_and_unvalidated_while_off() -> None:
    """Unset = never; while never, half-filled SMTP settings are no problem (nothing would use them)."""
    assert load_settings(environ={}).notify is None  # nothing set: the module is not even imported
    notify, problems = parse_notify(
        {"PROFILESYNC_NOTIFY_SMTP_HOST": "x", "PROFILESYNC_NOTIFY_SMTP_PORT": "nope"}, allow_insecure_http=False
    )
    assert notify.when is When.NEVER and problems == []


def test_smtp_defaults_and_recipients() -> None:
    """starttls on 587 by default (ssl: 465, none: 25); recipients split on commas and semicolons."""
    notify, problems = parse_notify(MAIL, allow_insecure_http=False)
    assert problems == [] and notify.smtp is not None
    assert (notify.smtp.security, notify.smtp.port) == (Security.STARTTLS, 587)
    assert notify.smtp.recipients == ("a@example.org", "b@example.org", "c@example.org")
    ssl, _ = parse_notify({**MAIL, "PROFILESYNC_NOTIFY_SMTP_SECURITY": "SSL"}, allow_insecure_http=False)
    assert ssl.smtp is not None and ssl.smtp.port == 465


def test_every_problem_at_once_through_load_settings() -> None:
    """A bad port, a user without password, a bad recipient and a bad format are all reported in one ConfigError."""
    environ = {
        **MAIL,
        "PROFILESYNC_NOTIFY_SMTP_PORT": "99999",
        "PROFILESYNC_NOTIFY_SMTP_USER": "reports",
        "PROFILESYNC_NOTIFY_SMTP_TO": "it@example.org, not-an-address",
        "PROFILESYNC_NOTIFY_WEBHOOK_URL": HOOK,
        "PROFILESYNC_NOTIFY_WEBHOOK_FORMAT": "discord",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)
    text = "\n".join(caught.value.problems)
    assert len(caught.value.problems) == 4
    for name in ("SMTP_PORT", "SMTP_USER and PROFILESYNC_NOTIFY_SMTP_PASSWORD", "'not-an-address'", "WEBHOOK_FORMAT"):
        assert name in text


def test_notify_needs_somewhere_to_send() -> None:
    """failures/always with neither an SMTP host nor a webhook is a configuration problem."""
    _, problems = parse_notify({"PROFILESYNC_NOTIFY": "always"}, allow_insecure_http=False)
    assert problems and "neither PROFILESYNC_NOTIFY_SMTP_HOST nor PROFILESYNC_NOTIFY_WEBHOOK_URL" in problems[0]
    _, problems = parse_notify({"PROFILESYNC_NOTIFY": "sometimes"}, allow_insecure_http=False)
    assert problems == ["PROFILESYNC_NOTIFY='sometimes' must be never, failures or always"]


def test_cleartext_secrets_are_refused_without_quoting_them() -> None:
    """A password over an unprotected connection off loopback, and a plain-http webhook off loopback, are refused;
    neither the password nor the webhook URL appears in the problems."""
    environ = {
        **MAIL,
        "PROFILESYNC_NOTIFY_SMTP_SECURITY": "none",
        "PROFILESYNC_NOTIFY_SMTP_USER": "reports",
        "PROFILESYNC_NOTIFY_SMTP_PASSWORD": "pa55word-secret",
        "PROFILESYNC_NOTIFY_WEBHOOK_URL": HOOK.replace("https", "http"),
    }
    _, problems = parse_notify(environ, allow_insecure_http=False)
    text = "\n".join(problems)
    assert "would send it in clear" in text and "would send its token in clear" in text
    assert "pa55word-secret" not in text and "tokentokentoken" not in text


def test_secrets_are_masked_everywhere_settings_mask_them() -> None:
    """The SMTP password and the webhook URL (whole, and its path that an HTTP error quotes) join the secrets
    the log filter and the report hide; the settings' repr shows none of them."""
    environ = {
        **MAIL,
        "PROFILESYNC_NOTIFY_SMTP_USER": "reports",
        "PROFILESYNC_NOTIFY_SMTP_PASSWORD": "pa55word-secret",
        "PROFILESYNC_NOTIFY_WEBHOOK_URL": HOOK,
        "PROFILESYNC_NOTIFY_WEBHOOK_FORMAT": "teams",
    }
    settings = load_settings(environ=environ)
    assert settings.notify is not None and settings.notify.webhook_format is WebhookFormat.TEAMS
    secrets = settings.secret_values()
    assert "pa55word-secret" in secrets and HOOK in secrets and "/services/T000/B000/tokentokentoken" in secrets
    assert "pa55word-secret" not in repr(settings) and "tokentoken" not in repr(settings)
    assert "tokentoken" not in " ".join(settings.notify.channels())


@pytest.mark.parametrize(
    ("when", "sent"),
    [
        ("never", set()),
        ("failures", {1, 2, 3, 4, 5}),
        ("always", {0, 1, 2, 3, 4, 5}),
    ],
)
def test_which_exit_codes_are_delivered(when: str, sent: set[int]) -> None:
    """failures: any exit 1-5; always: also 0; interrupted runs (130, 143) never."""
    notify, _ = parse_notify({**MAIL, "PROFILESYNC_NOTIFY": when}, allow_insecure_http=False)
    assert {code for code in (0, 1, 2, 3, 4, 5, 130, 143) if notify.wants(code)} == sent


def test_a_misspelt_name_is_a_problem() -> None:
    """PROFILESYNC_NOTIFY_SMTP_PASS (not ..._PASSWORD) is reported, not silently ignored, while reports are on."""
    _, problems = parse_notify({**MAIL, "PROFILESYNC_NOTIFY_SMTP_PASS": "x"}, allow_insecure_http=False)
    assert problems and problems[0].startswith("PROFILESYNC_NOTIFY_SMTP_PASS is not a setting (did you mean one of ")


def test_every_setting_is_in_the_template_and_the_readme() -> None:
    """Each PROFILESYNC_NOTIFY* name is documented in config.example.env and README.md."""
    root = Path(__file__).resolve().parents[2]
    template = (root / "config.example.env").read_text(encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    for name in ENV_NAMES:
        assert f"#{name}=" in template, name
        assert name.removeprefix("PROFILESYNC_NOTIFY_").removeprefix("SMTP_").removeprefix("WEBHOOK_") in readme
