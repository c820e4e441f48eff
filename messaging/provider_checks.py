"""What proves an email provider's key works without sending anything: per ESP, a read-only
request (path under anymail's API URL, requests arguments), and how to read its answer.
Used by messaging.providers.AnymailSender.check (`manage.py check_integrations`)."""

from __future__ import annotations

from typing import Any

# A key limited to sending may be refused some of these: see esp_verdict.
ESP_CHECKS = {
    "resend": lambda creds: (
        "domains",
        {"headers": {"Authorization": f"Bearer {creds['api_key']}"}},
    ),
    "sendgrid": lambda creds: (
        "scopes",
        {"headers": {"Authorization": f"Bearer {creds['api_key']}"}},
    ),
    "mailgun": lambda creds: (
        f"domains/{creds['sender_domain']}",
        {"auth": ("api", creds["api_key"])},
    ),
    "postmark": lambda creds: (
        "server",
        {"headers": {"X-Postmark-Server-Token": creds["api_key"], "Accept": "application/json"}},
    ),
}


def json_dict(response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def esp_verdict(key: str, status: int, body: dict[str, Any], text: str) -> tuple[bool, str]:
    """(accepted, what to report) for the answer to ESP_CHECKS[key]."""
    if key == "resend" and status == 401 and body.get("name") == "restricted_api_key":
        # A key with Resend's "sending access" only may not list domains: its refusal names the
        # key's scope, which proves the key valid (asking for a full-access key to pass a check
        # would be a worse setup).
        return True, "key accepted (sending access only)"
    if status >= 400:
        reason = f"HTTP {status} {text[:200]}".strip()
        if key == "mailgun" and status == 401:
            # Mailgun answers a domain sending key and a wrong key alike here.
            reason += " (a domain sending key cannot be checked without sending a message)"
        return False, reason
    if key == "sendgrid":
        if "mail.send" not in (body.get("scopes") or []):
            return False, "the key may not send mail (no mail.send scope)"
        return True, "key accepted, may send mail"
    if key == "mailgun":
        state = (body.get("domain") or {}).get("state", "")
        if state and state != "active":
            return False, f"the sending domain is {state}"
        return True, "key accepted, sending domain active"
    if key == "postmark":
        return True, f"server token accepted ({body.get('Name', 'server')})"
    return True, "key accepted"
