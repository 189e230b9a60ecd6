"""axe-core on every page the browser tests visit: WCAG 2.2 A/AA violations fail the test.

``make setup`` copies axe-core from npm to ``tests/web/vendor/axe.min.js`` (never
committed). Each browser context gets it as an init script, so it is in every
page and frame before the page's own scripts run (the pages' CSP does not apply
to it). The check runs after each load and once more on every open page at the
end of the test, and reports each violation with its rule, impact, target and
page address.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Error, Page

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
IN_CI = os.environ.get("CI") == "true"

# The WCAG 2.0/2.1/2.2 A and AA rules (the product's target), plus axe's best practices
# that screen-reader users notice most (landmarks, one main heading).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

RUN = """async (tags) => {
  if (typeof axe === "undefined") { return null; }
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map((n) => n.target.map((t) => Array.isArray(t) ? t.join(" >>> ") : t).join(" >>> ")),
    summaries: v.nodes.map((n) => (n.failureSummary || "").split("\\n").slice(1).join(" ").trim()),
  }));
}"""


def require_axe() -> None:
    """Skip outside CI when axe-core is not set up; in CI its absence fails the test."""
    if AXE_JS.is_file():
        return
    reason = f"{AXE_JS.relative_to(Path.cwd()) if AXE_JS.is_relative_to(Path.cwd()) else AXE_JS} is missing: " \
        "`make setup` copies axe-core from npm (package.json)"
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class AxeWatch:
    """Runs axe on a context's pages and keeps every violation found, once per page, rule and target."""

    violations: list[str] = field(default_factory=list)
    _seen: set[tuple[str, str, str]] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _locks: dict[int, asyncio.Lock] = field(default_factory=dict)

    async def attach(self, ctx: BrowserContext) -> None:
        await ctx.add_init_script(path=str(AXE_JS))
        ctx.on("page", self._watch)

    def _watch(self, page: Page) -> None:
        page.on("load", lambda p: self._schedule(p))

    def _schedule(self, page: Page) -> None:
        task = asyncio.ensure_future(self.check(page, quiet=True))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def check(self, page: Page, *, quiet: bool = False) -> None:
        """Run axe on ``page`` now; a page that navigates or closes meanwhile is checked at its next load."""
        if page.is_closed():
            return
        lock = self._locks.setdefault(id(page), asyncio.Lock())
        async with lock:
            try:
                await page.wait_for_load_state("load")
                url = page.url
                if url.startswith("about:"):
                    return  # a window opened by a script, before it navigates: not a page of ours
                found = await page.evaluate(RUN, TAGS)
            except Error:
                if quiet:
                    return
                raise
        if found is None:
            if not quiet:
                self.violations.append(f"{url}: axe-core was not loaded in this page")
            return
        for v in found:
            for target, summary in zip(v["targets"], v["summaries"], strict=False):
                key = (url.split("?")[0], v["id"], target)
                if key in self._seen:
                    continue
                self._seen.add(key)
                self.violations.append(
                    f"{v['id']} ({v['impact']}) at {target} on {url}: {v['help']}. {summary}".strip()
                )

    async def finish(self, contexts: list[BrowserContext]) -> None:
        """Check every open page once more, and wait for the checks still running."""
        for ctx in contexts:
            for page in ctx.pages:
                try:
                    await self.check(page)
                except Error:
                    pass  # closed or navigating at the very end: its last load was checked
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def report(self) -> str:
        return "axe-core found accessibility violations:\n  " + "\n  ".join(self.violations)


async def violations_on(browser: Browser, url: str, **context_options: Any) -> list[str]:
    """axe on ``url`` in a fresh context of its own (for a test whose own context runs no scripts)."""
    watch = AxeWatch()
    ctx = await browser.new_context(**{**context_options, "java_script_enabled": True})
    try:
        await watch.attach(ctx)
        page = await ctx.new_page()
        await page.goto(url)
        await watch.finish([ctx])
    finally:
        await ctx.close()
    return watch.violations
