"""`robot run`, `robot warnings import` and `robot demo`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from pathlib import Path

import uvicorn

from ..clock import WallClock
from ..console.users import add_users_parser
from ..dialog.loader import ScriptError
from ..store.repository import StoreError
from .api import create_app
from .config import DialerConfig, load_dialer_config
from .daemon import Daemon
from .db import add_db_parser
from .deliveries import add_deliveries_parser
from .intake import intake_for, read_rows, validate_warning
from .scripts import ScriptLibrary
from .storage import repository_for

_LOGGER = logging.getLogger("robot.run")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser("run", help="run the dialer daemon")
    run.add_argument("--config", help="daemon config YAML (default: embedded defaults)")
    run.set_defaults(handler=_run)

    warnings = subparsers.add_parser("warnings", help="warning files")
    actions = warnings.add_subparsers(dest="action", required=True, metavar="ACTION")
    importer = actions.add_parser("import", help="import a .csv or .jsonl file of warnings into the store")
    importer.add_argument("file")
    importer.add_argument("--config", help="daemon config YAML (for the database, region and time zone)")
    importer.set_defaults(handler=_import)

    add_deliveries_parser(subparsers, _load)
    add_db_parser(subparsers, _load)
    add_users_parser(subparsers, _load)

    demo = subparsers.add_parser("demo", help="the daemon against simulated citizens on loopback, end to end")
    demo.add_argument("--keep", action="store_true", help="keep the temporary directory (database, recordings, logs)")
    demo.set_defaults(handler=_demo)


def _load(path: str | None) -> DialerConfig:
    try:
        return load_dialer_config(path)
    except (ScriptError, OSError) as err:
        raise SystemExit(f"robot: {err}") from err


class _Server(uvicorn.Server):
    """Uvicorn inside our loop; the daemon owns the signals (SIGTERM drains, SIGHUP reloads)."""

    def capture_signals(self) -> contextlib.nullcontext[None]:  # type: ignore[override]
        return contextlib.nullcontext()


async def serve(
    config: DialerConfig, config_path: Path | None, *, ready: asyncio.Future[str] | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run the daemon and its API until SIGTERM/SIGINT (or `stop`); SIGHUP reloads scripts."""
    try:
        repository = repository_for(config)
        daemon = Daemon(config, repository, config_path=config_path, api_url=_api_url(config))
        token = config.api.read_token()
    except (ValueError, ScriptError, StoreError) as err:  # a secret that cannot be read, a broken SIP config
        _LOGGER.error("cannot start: %s", err)
        return 1
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    reloads: set[asyncio.Task[object]] = set()

    def reload() -> None:
        task = loop.create_task(daemon.reload_scripts())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload)
    try:
        await daemon.start()
    except (ScriptError, StoreError, RuntimeError, OSError) as err:
        _LOGGER.error("cannot start: %s", err)
        await daemon.stop(0)
        return 1
    except Exception:  # anything else: say so and exit, never hang with the store's thread alive
        _LOGGER.exception("cannot start")
        await daemon.stop(0)
        return 1
    try:
        listener = api_listener(config.api.host, config.api.port)
    except OSError as err:
        _LOGGER.error("the API cannot listen on %s:%s: %s", config.api.host, config.api.port, err)
        await daemon.stop(0)
        return 1
    tls = config.api.tls
    server = _Server(uvicorn.Config(
        create_app(daemon, token), log_level="warning", lifespan="off",
        ssl_certfile=str(tls.cert_file) if tls else None, ssl_keyfile=str(tls.key_file) if tls else None,
    ))
    try:
        server.config.load()  # the certificate and key are read here: a bad pair fails the start, not the first request
    except (OSError, ValueError) as err:
        _LOGGER.error("cannot serve the API over TLS: %s", err)
        listener.close()
        await daemon.stop(0)
        return 1
    api = loop.create_task(server.serve(sockets=[listener]))
    host, port = listener.getsockname()[:2]
    url = f"{'https' if tls else 'http'}://{host}:{port}"
    _LOGGER.info("robot %s listening on %s (%d workers x %d calls)", config.node_id, url,
                 config.workers.processes, config.workers.calls_per_process)
    if ready is not None and not ready.done():
        ready.set_result(url)
    await stop.wait()
    _LOGGER.info("SIGTERM: draining")
    await daemon.stop()
    server.should_exit = True
    await api
    _LOGGER.info("stopped")
    return 0


def _api_url(config: DialerConfig) -> str:
    """Where this node's API is, as other nodes' /healthz show it."""
    return f"{'https' if config.api.tls else 'http'}://{config.api.host}:{config.api.port}"


def api_listener(host: str, port: int) -> socket.socket:
    """The API's listening socket. Made with proto=IPPROTO_TCP, which `socket.create_server`
    leaves at 0: asyncio switches Nagle's algorithm off (TCP_NODELAY) only on connections of a
    TCP-proto socket, and without that every response on a kept-alive connection (an
    officer's desk, a warning system) waited about 40 ms for the client's delayed ACK."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE)[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen()
    except OSError:
        listener.close()
        raise
    return listener


def quiet_libraries() -> None:
    for name in ("httpx", "transitions"):
        logging.getLogger(name).setLevel(logging.WARNING)


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_libraries()


def _run(args: argparse.Namespace) -> int:
    config = _load(args.config)
    setup_logging()
    try:
        config.api.read_token()
    except ValueError as err:
        raise SystemExit(f"robot: the API needs a bearer token: {err}") from err
    return asyncio.run(serve(config, Path(args.config) if args.config else None))


async def import_file(config: DialerConfig, path: Path) -> tuple[int, int, list[str]]:
    """Returns (stored, already there, problems by line)."""
    library = ScriptLibrary(config.dialogs_dir)  # which variables a warning may set, per script
    try:
        await library.load()
    except ScriptError as err:
        raise ValueError(f"the scripts in {config.dialogs_dir} do not load:\n{err}") from err
    rules = config.intake_rules(library.warning_variables)
    repository = repository_for(config)
    await repository.open()
    stored = duplicates = 0
    problems: list[str] = []
    clock = WallClock()
    try:
        for row in read_rows(path):
            if row.data is None:
                problems.append(f"{path}:{row.line}: {row.problem}")
                continue
            checked = validate_warning(row.data, rules)
            if isinstance(checked, list):
                problems += [f"{path}:{row.line}: {'.'.join(map(str, e.loc))}: {e.message}" for e in checked]
                continue
            result = await repository.accept_warning(checked, clock.now(), escalate=intake_for(checked).escalate)
            if result.created:
                stored += 1
            else:
                duplicates += 1
    finally:
        await repository.close()
    return stored, duplicates, problems


def _import(args: argparse.Namespace) -> int:
    config = _load(args.config)
    path = Path(args.file)
    try:
        stored, duplicates, problems = asyncio.run(import_file(config, path))
    except (OSError, ValueError, StoreError) as err:
        print(f"robot: {err}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    print(f"{stored} warning(s) imported, {duplicates} already stored, {len(problems)} row problem(s)", file=sys.stderr)
    return 1 if problems else 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return asyncio.run(run_demo(keep=args.keep))
