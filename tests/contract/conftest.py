"""Session fixtures that serve the Cloudflare API subset with Prism on loopback.

The first run installs the pinned Prism with npm into tests/.tools/prism, which
needs the npm registry, and later runs reuse it. A missing Node.js, a failed install
or a missing OpenAPI document fails the tests instead of skipping them.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from tests import prism as prism_tools

LOG_MARK_KEY = pytest.StashKey[int]()
INSTALL_SECONDS_KEY = pytest.StashKey[float]()
# Characters of Prism's log attached to a failed test's report.
LOG_EXCERPT_CHARS = 20_000


@pytest.fixture(scope="session")
def prism(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[prism_tools.PrismServer]:
    """Serve a patched copy of the OpenAPI document with `prism mock`."""
    setup_error = None
    try:
        spec = prism_tools.find_spec()
        install = prism_tools.install_prism()
        server = prism_tools.start_prism(
            install.executable, spec, tmp_path_factory.mktemp("prism")
        )
    except prism_tools.PrismSetupError as error:
        setup_error = str(error)
    # Failing outside the except block keeps the report to the one message.
    if setup_error is not None:
        pytest.fail(setup_error, pytrace=False)
    if install.install_seconds is not None:
        request.config.stash[INSTALL_SECONDS_KEY] = install.install_seconds
    yield server
    server.stop()


@pytest.fixture
def prism_mark(prism: prism_tools.PrismServer, request: pytest.FixtureRequest) -> int:
    """Return the size of Prism's log when the test started.

    Pass it to `prism.requests(since=...)`. A failed test's report shows the log
    from this point on.
    """
    mark = prism.log_mark()
    request.node.stash[LOG_MARK_KEY] = mark
    return mark


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    server = getattr(item, "funcargs", {}).get("prism")
    if report.failed and call.when == "call" and server is not None:
        mark = item.stash.get(LOG_MARK_KEY, 0)
        excerpt = server.log_text(mark)[-LOG_EXCERPT_CHARS:]
        report.sections.append(("Prism log during this test", excerpt))
    return report


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    seconds = config.stash.get(INSTALL_SECONDS_KEY, None)
    if seconds is not None:
        terminalreporter.write_line(
            f"Installed {prism_tools.PRISM_PACKAGE}@{prism_tools.PRISM_VERSION} "
            f"into {prism_tools.TOOLS_DIR} in {seconds:.1f} s"
        )
