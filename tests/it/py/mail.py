"""Real mail for the delivery tests.

  mail.py serve DIR [--fail-first N] [--reject ADDRESS]
      An SMTP server on 127.0.0.1 (aiosmtpd) on a free port, printed as the first line of
      stdout. Every message accepted is saved as DIR/<n>.eml and summarised as one line of
      DIR/messages.jsonl. --fail-first answers the first N messages with 451 (a transient
      error the client must retry); --reject answers RCPT TO ADDRESS with 550.
      --starttls CERT KEY offers STARTTLS and requires it; --tls CERT KEY speaks TLS from the
      first byte; --auth USER PASSWORD requires that login (over TLS only).
  mail.py certs DIR
      A test CA (DIR/ca.pem) and a server certificate for 127.0.0.1 signed by it
      (DIR/server.pem, DIR/server.key), made with openssl.
  mail.py summarise FILE...
      The same summary for .eml files, as a JSON list.
"""

import email
import hashlib
import email.policy
import json
import os
import sys
import threading
import time


def summarise(raw: bytes, envelope_to=None) -> dict:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    attachments = []
    html = None
    plain = None
    for part in msg.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename:
            payload = part.get_payload(decode=True) or b""
            attachments.append(
                {"filename": filename, "bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
            )
        elif part.get_content_type() == "text/html":
            html = part.get_content()
        elif part.get_content_type() == "text/plain":
            plain = part.get_content()
    return {
        "to": [a.addr_spec for a in msg["To"].addresses] if msg["To"] else [],
        "envelope_to": envelope_to or [],
        "from": str(msg["From"]),
        "subject": str(msg["Subject"]),
        "message_id": str(msg["Message-ID"]),
        "in_reply_to": str(msg["In-Reply-To"]) if msg["In-Reply-To"] else None,
        "report": str(msg["X-Wangge-Report"]) if msg["X-Wangge-Report"] else None,
        "date": str(msg["Date"]),
        "attachments": attachments,
        "html": html,
        "plain": plain,
    }


def certs(directory: str) -> None:
    import subprocess

    os.makedirs(directory, exist_ok=True)

    def run(*args):
        subprocess.run(["openssl", *args], check=True, cwd=directory, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", "/CN=wangge test CA")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "3650", "-extfile", "server.ext")


def serve(directory: str, fail_first: int, reject: set, starttls=None, tls=None, auth=None) -> None:
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    os.makedirs(directory, exist_ok=True)
    lock = threading.Lock()
    state = {"seen": 0, "saved": 0}

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address in reject:
                return "550 5.1.1 mailbox unavailable"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            with lock:
                state["seen"] += 1
                if state["seen"] <= fail_first:
                    return "451 4.3.0 try again later"
                state["saved"] += 1
                n = state["saved"]
                raw = envelope.original_content or envelope.content
                with open(os.path.join(directory, f"{n:04}.eml"), "wb") as f:
                    f.write(raw)
                summary = summarise(raw, list(envelope.rcpt_tos))
                # STARTTLS sets session.ssl; TLS from the first byte shows on the transport.
                summary["tls"] = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
                login = session.auth_data
                summary["auth_user"] = login.login.decode() if isinstance(login, LoginPassword) else None
                line = json.dumps(summary, ensure_ascii=False)
                with open(os.path.join(directory, "messages.jsonl"), "a", encoding="utf-8") as f:
                    f.write(line + "\n")
            return "250 Message accepted for delivery"

    # aiosmtpd cannot start on port 0 (it connects to its own port to check it is up), so take
    # a free port from the kernel first.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    def context(pair):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(pair[0], pair[1])
        return ctx

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login.decode(), auth_data.password.decode()) == auth
        return AuthResult(success=ok, auth_data=auth_data if ok else None)

    options = {}
    if starttls:
        options.update(tls_context=context(starttls), require_starttls=True)
    if tls:
        options.update(ssl_context=context(tls))
    if auth:
        options.update(authenticator=authenticator, auth_required=True, auth_require_tls=True)
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, decode_data=False, **options)
    controller.start()
    print(port, flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def main() -> None:
    if sys.argv[1] == "serve":
        args = sys.argv[2:]
        directory = args[0]
        fail_first = int(args[args.index("--fail-first") + 1]) if "--fail-first" in args else 0
        reject = {args[i + 1] for i, a in enumerate(args) if a == "--reject"}

        def pair(flag):
            return tuple(args[args.index(flag) + 1 : args.index(flag) + 3]) if flag in args else None

        serve(directory, fail_first, reject, pair("--starttls"), pair("--tls"), pair("--auth"))
    elif sys.argv[1] == "certs":
        certs(sys.argv[2])
    elif sys.argv[1] == "summarise":
        out = []
        for path in sys.argv[2:]:
            with open(path, "rb") as f:
                out.append(summarise(f.read()))
        json.dump(out, sys.stdout, ensure_ascii=False)
    else:
        sys.exit(f"unknown command {sys.argv[1]}")


if __name__ == "__main__":
    main()
