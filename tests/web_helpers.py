"""The web app on a loopback port in a thread, a small tournament run to serve, and headless Chromium."""
from __future__ import annotations

import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from agents import AgentSpec
from arena.runner import run_tournament
from arena.spec import TournamentSpec
from arena.web.app import ServeConfig, create_app
from arena.web.serve import play_spec

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SERVED_AGENTS = ("vanilla", "eq-negotiator", "victim", "threatening")


def small_run(out: Path) -> Path:
    """A scripted tournament on three credit scenarios (with its report), to browse and to join."""
    spec = TournamentSpec(agents=[AgentSpec(a) for a in SERVED_AGENTS], domains=["credit"], scenarios=3, workers=0)
    matches = run_tournament(spec, out)
    from leaderboards import write_report

    write_report(matches, out / "report", bootstrap=200)
    return out


class LiveServer:
    """The app served by waitress on 127.0.0.1 (a free port) until closed."""

    def __init__(self, run: Path, token: str | None = None, abandon_after_s: float = 60.0, **study):
        import waitress

        folders = [run] if run.is_dir() else []
        self.config = ServeConfig(folders=folders, play_run=run, spec=play_spec(run).validate(), token=token,
                                  bootstrap=200, abandon_after_s=abandon_after_s, **study)
        self.app = create_app(self.config)
        self.server = waitress.create_server(self.app, host="127.0.0.1", port=0, threads=8)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    @property
    def room(self):
        return self.app.extensions["arena"]["room"]

    def close(self) -> None:
        from arena.web.app import close

        if getattr(self, "closed", False):
            return
        self.closed = True
        self.server.trigger.pull_trigger(self.server.close)  # closed in the server's own thread: no race with its loop
        self.thread.join(5)
        close(self.app)


@contextmanager
def serving(run: Path, **kwargs) -> Iterator[LiveServer]:
    server = LiveServer(run, **kwargs)
    try:
        yield server
    finally:
        server.close()


PHONE = {"width": 390, "height": 844, "pixelRatio": 3}  # a phone's screen, in CSS pixels


def overflow(driver) -> int:
    """How many CSS pixels the page is wider than the screen (0: no sideways scrolling)."""
    return driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")


@contextmanager
def browser(phone: bool = False) -> Iterator:
    """Headless Debian Chromium through its chromedriver, with no background network traffic; with
    ``phone``, a 390-pixel-wide phone screen (Chromium's mobile emulation)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="arena-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if phone:
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.implicitly_wait(5)  # elements of a page that is still loading
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


STUDY_FILE = Path(__file__).resolve().parents[1] / "examples" / "study.toml"


def study_server(out: Path, study_file: Path = STUDY_FILE, token: str = "researcher-token-0123456789",
                 abandon_after_s: float = 60.0, run: Path | None = None) -> "LiveServer":
    """The app in study mode: ``study_file`` served with its data in ``out``."""
    from arena.study.spec import load_study

    study = load_study(study_file)
    return LiveServer(run or out / "play", token=token, abandon_after_s=abandon_after_s, study=study, study_dir=out)
