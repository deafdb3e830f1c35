"""The reply table: every SMTP line Tidings sends on purpose, in one place.

Names carry the basic code. The 554/451 texts are the contract of SPEC.md section 2
and clients match on them, so they are kept to the letter, including the misspelling
"attachement". A QA test checks that each basic code agrees with its enhanced code.
"""

from __future__ import annotations

import re

from policy.verdict import Rule, Verdict

R220_READY_TLS = "220 2.0.0 Ready to start TLS"
R221_BYE = "221 2.0.0 Bye"
R235_AUTH_OK = "235 2.7.0 Authentication successful"
R250_OK = "250 2.0.0 Ok"
R250_SENDER_OK = "250 2.1.0 Sender ok"
R250_RECIPIENT_OK = "250 2.1.5 Recipient ok"
R250_QUEUED = "250 2.0.0 Ok: queued as {id}"
R354_DATA = "354 End data with <CR><LF>.<CR><LF>"

R421_IDLE = "421 4.4.2 Idle timeout, closing connection"
R421_TOO_MANY_SESSIONS = "421 4.7.0 Too many connections from {ip}, try again later"
R421_AUTH_LOCKED = "421 4.7.0 Too many failed authentications from {ip}, try again later"
R451_INTERNAL = "451 4.3.0 Internal server error"
R451_RATE = "451 4.7.1 Sending rate exceeded, try again later"

R452_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"

R501_SYNTAX = "501 5.5.2 Syntax error in parameters or arguments"
R501_BASE64 = "501 5.5.2 Can't decode base64"
R501_DATA_SYNTAX = "501 5.5.4 Syntax: DATA"
R501_STARTTLS_SYNTAX = "501 5.5.4 Syntax: STARTTLS"
R503_NEED_RCPT = "503 5.5.1 Error: need RCPT command"
R503_NO_TLS_AGAIN = "503 5.5.1 TLS already active"
R535_AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"
#: Sent by aiosmtpd itself, with this very text (tests/smtp/test_sessions.py checks it).
R538_ENCRYPTION_REQUIRED = "538 5.7.11 Encryption required for requested authentication mechanism"
#: The bounce listener's answer to any address that is not one of our signed VERP ones.
R550_NO_SUCH_USER = "550 5.1.1 No such user"
R553_NON_ASCII = "553 5.6.7 Non-ASCII address requires the SMTPUTF8 parameter: {address}"

R554_MUST_AUTHENTICATE = "554 5.7.0 Must authenticate before sending mail"
R554_DISALLOWED_CLIENT = "554 5.7.1 Disallowed client address: {ip}"
R554_DISALLOWED_SOURCE = "554 5.7.1 Disallowed source address: {address}"
R554_INVALID_RECIPIENT = "554 5.1.3 Invalid recipient address: {address}"
R554_ONE_RECIPIENT = "554 5.5.3 Only one recipient per message is allowed"
R554_SIZE = "554 5.3.4 Message exceeds fixed size limit"
R554_ATTACHMENT = "554 5.7.1 Not allowed attachement type {ext}"
R554_UNSUBSCRIBE_REQUIRED = "554 5.7.1 Message must contain an unsubscribe link"
R554_UNPARSEABLE = "554 5.6.0 Message could not be parsed: {reason}"

#: The reply for each rule a verdict can name.
RULE_REPLIES: dict[Rule, str] = {
    Rule.MUST_AUTHENTICATE: R554_MUST_AUTHENTICATE,
    Rule.DISALLOWED_CLIENT: R554_DISALLOWED_CLIENT,
    Rule.DISALLOWED_SOURCE: R554_DISALLOWED_SOURCE,
    Rule.NON_ASCII_ADDRESS: R553_NON_ASCII,
    Rule.INVALID_RECIPIENT: R554_INVALID_RECIPIENT,
    Rule.ONE_RECIPIENT: R554_ONE_RECIPIENT,
    Rule.SIZE_EXCEEDED: R554_SIZE,
    Rule.ATTACHMENT: R554_ATTACHMENT,
    Rule.UNSUBSCRIBE_REQUIRED: R554_UNSUBSCRIBE_REQUIRED,
    Rule.UNPARSEABLE: R554_UNPARSEABLE,
    Rule.BARE_LINE_ENDING: R554_UNPARSEABLE,
    Rule.RATE_EXCEEDED: R451_RATE,
}


#: RFC 3463 codes for the replies aiosmtpd writes itself (syntax and sequence errors):
#: we advertise ENHANCEDSTATUSCODES, so every reply must carry one (RFC 2034).
DEFAULT_ENHANCED = {
    "250": "2.0.0", "252": "2.5.0", "421": "4.3.0", "451": "4.3.0", "500": "5.5.2",
    "501": "5.5.4", "502": "5.5.1", "503": "5.5.1", "504": "5.5.4", "530": "5.7.0",
    "535": "5.7.8", "550": "5.0.0", "553": "5.1.3", "554": "5.0.0", "555": "5.5.4",
}
_HAS_ENHANCED = re.compile(r"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}(?: |$)")


def with_enhanced_code(line: str) -> str:
    """`line` with an RFC 3463 code after its basic code when it lacks one.

    The greeting, EHLO lines and 3xx continuations are the caller's to leave alone.
    """
    if _HAS_ENHANCED.match(line) or len(line) < 4 or line[3] not in " -":
        return line
    code = DEFAULT_ENHANCED.get(line[:3]) or f"{line[0]}.0.0"
    return f"{line[:4]}{code} {line[4:]}".rstrip()


def render(template: str, **args: str) -> str:
    """Fill a reply template; CR, LF and NUL in values are neutralised so no reply can be split."""
    clean = {k: _one_line(v) for k, v in args.items()}
    return template.format(**clean)


def for_verdict(verdict: Verdict) -> str:
    assert verdict.rule is not None, "an accepting verdict has no reply"
    return render(RULE_REPLIES[verdict.rule], **verdict.args)


def _one_line(value: str) -> str:
    return "".join(ch if ch >= " " and ch != "\x7f" else "?" for ch in value)[:400]
