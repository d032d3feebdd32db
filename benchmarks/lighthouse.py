"""Lighthouse (mobile preset) over the pages of a real ``vnsearch serve``.

Builds the web test corpus (``tests/data/web_corpus/``, our own texts) into a temporary
index, serves it with gunicorn on a free port, runs the npm package ``lighthouse`` with
Debian's Chromium against a few pages and prints the four category scores of each,
plus the audits that did not pass, as a Markdown table.

Needs ``lighthouse`` (``npm install lighthouse@12``; pass its path with
``--lighthouse``) and ``/usr/bin/chromium`` (or ``CHROME_PATH``)::

    python benchmarks/lighthouse.py --lighthouse /tmp/lh/node_modules/.bin/lighthouse
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = (
    "/?q=dai+hoi",
    "/?q=qu%E1%BA%ADn&per_page=5",
    "/",
    "/?q=khong+co+gi+het+xyz",
    "/articles/web-001?q=dai+hoi",
)
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not answer")


def audit(lighthouse: str, url: str, out: Path) -> dict:
    """Run Lighthouse on ``url``; the parsed JSON report."""
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    subprocess.run(
        [lighthouse, url, "--form-factor=mobile", "--quiet", "--output=json",
         f"--output-path={out}", f"--only-categories={','.join(CATEGORIES)}",
         "--chrome-flags=--headless=new --no-sandbox"],
        check=True, env=env, timeout=300,
    )
    return json.loads(out.read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lighthouse", default="lighthouse", help="the lighthouse command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vnsearch-lh-") as tmp:
        index_dir = Path(tmp) / "index"
        subprocess.run([sys.executable, "-m", "indexer", "build",
                        str(ROOT / "tests" / "data" / "web_corpus"), "--index-dir",
                        str(index_dir), "--quiet"], check=True)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "indexer", "serve", "--index-dir", str(index_dir),
             "--port", str(port), "--workers", "2", "--no-access-log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/healthz")
            version = subprocess.run([args.lighthouse, "--version"], capture_output=True,
                                     text=True, check=True).stdout.strip()
            print(f"lighthouse {version}, mobile preset, {base}\n")
            print("| page | " + " | ".join(CATEGORIES) + " | text compression | not passed |")
            print("|---|" + "---:|" * len(CATEGORIES) + "---:|---|")
            for number, page in enumerate(PAGES):
                report = audit(args.lighthouse, base + page, Path(tmp) / f"{number}.json")
                scores = [round(report["categories"][name]["score"] * 100)
                          for name in CATEGORIES]
                failed = sorted({
                    ref["id"] for category in report["categories"].values()
                    for ref in category["auditRefs"]
                    if ref.get("weight") and (report["audits"][ref["id"]].get("score")
                                              is not None)
                    and report["audits"][ref["id"]]["score"] < 1
                })
                compression = report["audits"]["uses-text-compression"]["score"]
                print(f"| `{page}` | " + " | ".join(map(str, scores))
                      + f" | {compression} | {', '.join(failed) or '–'} |")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
