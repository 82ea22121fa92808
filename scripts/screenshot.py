"""The README's screenshot: start ``python app.py``, translate the first example in Chromium at
1440×900 and save what the window shows (default ``docs/screenshot.png``). Rerun it whenever the
page changes:

    python scripts/screenshot.py [--out docs/screenshot.png] [--assets DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1440, "height": 900}


def serve(port: int, assets: str | None, tmp: str) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": tmp}
    args = [sys.executable, "app.py"] + (["--assets", assets] if assets else [])
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as r:
                json.load(r)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"error: python app.py did not serve on port {port} (exit {proc.poll()})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    p.add_argument("--assets", default=None, help="serve this folder of models (app.py --assets)")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    from demo import model_folder
    from seq2seq import checkpoint as ckpt

    examples = model_folder.page_text(Path(args.assets) if args.assets else ckpt.ASSETS).examples
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        proc = serve(port, args.assets, tmp)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM,
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
                if examples:
                    page.locator("#source-text textarea").fill(examples[0][0])
                page.locator("#run").click()
                page.locator("#results img.heatmap").first.wait_for(timeout=120_000)
                page.wait_for_timeout(1500)              # the scroll to the results, images decoded
                page.screenshot(path=args.out)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
