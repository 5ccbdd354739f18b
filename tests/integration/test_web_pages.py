#!/usr/bin/python3
"""The web pages and their assets: served from server.web_root with the right
content types, the browser security headers, revalidation by ETag, and no way
out of the web root (traversal, hidden files, symlinks)."""

import os
import tempfile
from pathlib import Path

from harness import SOURCE_DIR, ApiTestCase, Daemon, main


class WebPagesTest(ApiTestCase):
    @classmethod
    def setUpClass(cls):
        cls.outside = Path(tempfile.mkdtemp(prefix="consultd-web-outside-"))
        (cls.outside / "secret.txt").write_text("not for browsers\n")
        cls.root = Path(tempfile.mkdtemp(prefix="consultd-webroot-"))
        for page in ("admin", "join", "kiosk", "common"):
            (cls.root / page).mkdir()
        for page in ("admin", "join", "kiosk"):
            (cls.root / page / "index.html").write_text(f"<!doctype html><title>{page}</title>\n")
        (cls.root / "common" / "app.js").write_text("export const x = 1;\n")
        (cls.root / "common" / "base.css").write_text("body{}\n")
        (cls.root / ".hidden").write_text("hidden\n")
        os.symlink(cls.outside / "secret.txt", cls.root / "common" / "escape.txt")

    def setUp(self):
        self.d = Daemon(self, config={"server": {"web_root": str(self.root)}}, name="web").start()

    def assertPageHeaders(self, r, cache):
        csp = r.headers.get("content-security-policy", "")
        self.assertIn("script-src 'self'", csp, r.describe())
        self.assertNotIn("unsafe-inline", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertIn("object-src 'none'", csp)
        self.assertEqual(r.headers.get("x-content-type-options"), "nosniff")
        self.assertEqual(r.headers.get("referrer-policy"), "no-referrer")
        self.assertEqual(r.headers.get("x-frame-options"), "DENY")
        self.assertIn("camera=(self)", r.headers.get("permissions-policy", ""))
        self.assertEqual(r.headers.get("cache-control"), cache)
        self.assertNotIn("strict-transport-security", r.headers)  # plain HTTP: no HSTS

    def test_pages_serve_their_html(self):
        for path, title in (("/admin", "admin"), ("/admin/sessions/ses_1", "admin"), ("/join/inv_abc", "join"),
                            ("/kiosk", "kiosk")):
            r = self.d.request("GET", path)
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.headers.get("content-type"), "text/html; charset=utf-8")
            self.assertIn(f"<title>{title}</title>", r.text)
            self.assertPageHeaders(r, "no-store")

    def test_static_assets_types_and_etag(self):
        r = self.d.request("GET", "/static/common/app.js")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.headers.get("content-type"), "text/javascript; charset=utf-8")
        self.assertPageHeaders(r, "no-cache")
        etag = r.headers.get("etag")
        self.assertTrue(etag and etag.startswith('"'), r.describe())
        again = self.d.request("GET", "/static/common/app.js", headers={"If-None-Match": etag})
        self.assertEqual(again.status, 304, again.describe())
        self.assertEqual(again.body, b"")
        css = self.d.request("GET", "/static/common/base.css")
        self.assertEqual(css.headers.get("content-type"), "text/css; charset=utf-8")
        head = self.d.request("HEAD", "/static/common/base.css")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")

    def test_nothing_outside_the_web_root(self):
        for path in ("/static/../consultd.conf", "/static/%2e%2e/consultd.conf", "/static/common/%2e%2e/%2e%2e/consultd.conf",
                     "/static/.hidden", "/static/common/escape.txt",
                     "/static/common/missing.js", "/static/common", "/static/%00x"):
            r = self.d.request("GET", path)
            self.assertIn(r.status, (400, 404), r.describe())
            self.assertNotIn(b"not for browsers", r.body)
            self.assertNotIn(b"hidden", r.body)
            self.assertEnvelope(r)
        # Only GET/HEAD.
        self.assertStatus(self.d.request("POST", "/static/common/app.js", body={}), 405, "METHOD_NOT_ALLOWED")

    def test_missing_web_root_is_a_clear_404(self):
        self.d.stop()
        d = Daemon(self, config={"server": {"web_root": str(self.root / "nope")}}, name="web-missing").start()
        r = d.request("GET", "/admin")
        self.assertStatus(r, 404, "NOT_FOUND")
        self.assertIn("server.web_root", r.json()["error"]["message"])


class ShippedPagesTest(ApiTestCase):
    """The checkout's own web/ folder, as the dev config and the package serve it."""

    def test_every_page_loads_its_assets(self):
        d = Daemon(self, config={"server": {"web_root": str(SOURCE_DIR / "web")}}, name="web-shipped").start()
        import re
        for page in ("/admin", "/join/x", "/kiosk"):
            html = d.request("GET", page)
            self.assertEqual(html.status, 200, html.describe())
            refs = re.findall(r'(?:src|href)="(/static/[^"]+)"', html.text)
            self.assertTrue(refs, f"{page} references no /static asset")
            for ref in refs:
                self.assertEqual(d.request("GET", ref).status, 200, f"{page} -> {ref}")
            # No inline script: the CSP would block it.
            self.assertNotRegex(html.text, r"<script(?![^>]*\bsrc=)[^>]*>", f"{page} has an inline script")
            self.assertNotIn(" style=", html.text, f"{page} has an inline style attribute")


if __name__ == "__main__":
    main()
