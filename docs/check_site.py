"""Open the built site in headless Chromium and check it the way a reader would see it.

Usage (``make docs`` runs it after ``mkdocs build``)::

    python docs/check_site.py [SITE_DIR] [--screenshots DIR]

For the home page, one tutorial and one API-reference page it checks that the page loads
(HTTP 200), that the browser console shows no error and no script raised, and, for pages
with math, that MathJax rendered it (``mjx-container`` elements, no raw ``\\(`` left in the
text). It saves a full-page screenshot of each (``site_screenshots/`` by default): look at
them. Needs the ``playwright`` package ([dev] extra) and a Chromium binary (Debian's
``chromium``, which ``make docs`` installs when missing, or ``CHROMIUM=/path``).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path

PAGES = [  # (path in the site, must render math)
    ("", False),
    ("tutorials/02_kl_regularized_rl/", True),
    ("reference/mdplab.solvers/", True),
]


def _chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    if not path:
        sys.exit("check_site: no Chromium found (apt-get install chromium, or set CHROMIUM)")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", default="site")
    parser.add_argument("--screenshots", default="site_screenshots")
    args = parser.parse_args(argv)
    site = Path(args.site).resolve()
    if not (site / "index.html").is_file():
        sys.exit(f"check_site: {site} has no index.html (run mkdocs build first)")
    shots = Path(args.screenshots)
    shots.mkdir(parents=True, exist_ok=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # no access log on stderr
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"

    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), headless=True,
                                     args=["--no-sandbox"])
        for path, needs_math in PAGES:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc, e=errors: e.append(f"uncaught: {exc}"))
            page.on("requestfailed", lambda r, e=errors: e.append(f"request failed: {r.url}"))
            response = page.goto(base + path, wait_until="networkidle")
            status = response.status if response else None
            n_math = 0
            if needs_math:
                try:
                    page.wait_for_selector("mjx-container", timeout=15_000)
                except Exception:  # reported below
                    pass
                page.wait_for_timeout(500)
                n_math = page.locator("mjx-container").count()
                raw = page.evaluate("document.querySelector('article').innerText.includes('\\\\(')")
                if n_math == 0 or raw:
                    problems.append(f"{path or 'home'}: math not rendered "
                                    f"({n_math} mjx-container, raw \\( left: {raw})")
            name = (path.strip("/").replace("/", "_") or "home") + ".png"
            page.screenshot(path=str(shots / name), full_page=True)
            if status != 200:
                problems.append(f"{path or 'home'}: HTTP {status}")
            problems += [f"{path or 'home'}: console error: {e}" for e in errors]
            print(f"{path or 'home':40s} HTTP {status}, {n_math} math elements, "
                  f"{len(errors)} console errors -> {shots / name}")
            page.close()
        browser.close()
    server.shutdown()
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
