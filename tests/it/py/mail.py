"""Real mail for the delivery tests.

  mail.py serve DIR [--fail-first N] [--reject ADDRESS]
      An SMTP server on 127.0.0.1 (aiosmtpd) on a free port, printed as the first line of
      stdout. Every message accepted is saved as DIR/<n>.eml and summarised as one line of
      DIR/messages.jsonl. --fail-first answers the first N messages with 451 (a transient
      error the client must retry); --reject answers RCPT TO ADDRESS with 550.
  mail.py summarise FILE...
      The same summary for .eml files, as a JSON list.
"""

import email
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
            attachments.append({"filename": filename, "bytes": len(part.get_payload(decode=True) or b"")})
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


def serve(directory: str, fail_first: int, reject: set) -> None:
    from aiosmtpd.controller import Controller

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
                line = json.dumps(summarise(raw, list(envelope.rcpt_tos)), ensure_ascii=False)
                with open(os.path.join(directory, "messages.jsonl"), "a", encoding="utf-8") as f:
                    f.write(line + "\n")
            return "250 Message accepted for delivery"

    # aiosmtpd cannot start on port 0 (it connects to its own port to check it is up), so take
    # a free port from the kernel first.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, decode_data=False)
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
        serve(directory, fail_first, reject)
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
