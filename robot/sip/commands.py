"""`robot call`: place one real call and run a dialog with speech, end to end."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from ..dialog.commands import parse_vars
from ..dialog.engine import DialogEngine
from ..dialog.error import DialogError
from ..dialog.loader import ScriptError, load_script
from ..dialog.schema import Script
from ..speech.error import SpeechError
from ..speech.kit import SpeechKit
from ..speech.prompts import script_sentences
from .config import SipConfig, load_sip_config
from .endpoint import SipError
from .phrases import fixed_sentences
from .result import CallRequest, CallResult
from .worker import CallWorker


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    call = subparsers.add_parser("call", help="place one real call and run a dialog with speech")
    call.add_argument("target", metavar="TARGET", help="a phone number (dialled through the template) or a sip: URI")
    call.add_argument("--dialog", required=True, metavar="SCRIPT")
    call.add_argument("--config", metavar="FILE", help="SIP config (default: loopback)")
    call.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    call.add_argument("--json", action="store_true", help="end with one JSON line describing the call")
    call.set_defaults(handler=_call)


def _call(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)
    try:
        script = load_script(args.dialog).script
        variables = parse_vars(args.var)
        DialogEngine(script, variables=variables)  # unknown variables fail here, before dialling
        config = load_sip_config(args.config)
        speech = SpeechKit()
        speech.prompts(script.meta.voice)
        speech.recognizer(script.meta.language.value)
    except ScriptError as err:
        print(err, file=sys.stderr)
        return 2
    except (DialogError, SpeechError) as err:
        print(f"robot call: {err.message}", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(_place(config, speech, args.target, script, variables))
    except SipError as err:
        print(f"robot call: {err.message}", file=sys.stderr)
        return 2
    finally:
        speech.close()
    for line in result.transcript:
        print(f"{line['speaker']}: {line['text']}")
    print(f"[{result.outcome}] SIP {result.sip_status}, {result.duration_seconds:.1f} s")
    if args.json:
        print(json.dumps(result.model_dump(mode="json", exclude={"path", "call_outcome", "timeline", "stats"}), ensure_ascii=False))
    return 0


async def _place(config: SipConfig, speech: SpeechKit, target: str, script: Script, variables: dict[str, str]) -> CallResult:
    # Every static prompt is rendered before dialling, so the call never waits on synthesis.
    language = script.meta.language.value
    await speech.prompts(script.meta.voice).render_all([*script_sentences(script), *fixed_sentences(language)])
    async with CallWorker(config, speech, languages=(language,)) as worker:
        return await worker.call(CallRequest(target=target, script=script, variables=variables))
