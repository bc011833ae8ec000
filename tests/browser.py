"""Headless chromium for the report's tests and benchmark: Debian's `chromium` driven through its own
`/usr/bin/chromedriver` (`make browser` installs both), so selenium never looks for or downloads a browser."""

from __future__ import annotations

import os
import shutil
from typing import Any

CHROMEDRIVER = "/usr/bin/chromedriver"


def missing() -> str | None:
    """Why chromium cannot run here, or None."""
    if shutil.which("chromium") is None or not os.path.exists(CHROMEDRIVER):
        return "chromium and chromium-driver are not installed: run `make browser` (make test does)"
    return None


def chromium(**logs: str) -> Any:
    """A headless chromium (``--no-sandbox`` when run as root) with a tall window, keeping the logs asked for
    (``browser="ALL"``, ``performance="ALL"``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # selenium-manager, were it ever run, may not download anything
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--disable-gpu", "--window-size=1400,4200", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    options.set_capability("goog:loggingPrefs", logs)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
