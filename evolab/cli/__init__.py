"""`evolab`, the command line over `evolab.client` (run it as `python -m evolab.cli`).

    evolab login [--url URL] [--token TOKEN]
    evolab runs list|show|create|start|pause|resume|stop|clone ...
    evolab runs create NAME [--from-run ID [--best K] | --dna FILE [--weights FILE] ...]
    evolab watch RUN
    evolab download [RUN] [--individual ID] --format FORMAT [-o FILE]
    evolab import-dna RUN FILE [--weights FILE]
    evolab report RUN [-o FILE.html|FILE.pdf] [--format html|pdf]
    evolab datasets | teams | logout

`--json` prints what the server answered, as JSON (one object per line for `watch`). Exit
codes: 0 done, 1 the server refused (its message on stderr) or could not be reached, 2 a
usage error (bad arguments, not logged in), 130 interrupted. docs/CLIENT.md has the details.
Needs no Django: only the client's own dependencies."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any

from evolab.client import DOWNLOAD_FORMATS, EvoLab, EvoLabError
from evolab.client.config import config_path, forget_login, load_login, save_login
from evolab.client.http import NotConfigured

from .common import (
    DEFAULT_URL,
    INTERRUPTED,
    OK,
    REFUSED,
    USAGE,
    UsageError,
    _acc,
    _table,
    _when,
    emit,
    lab_for,
    run_summary,
)
from .watch import View, cmd_watch

__all__ = ["INTERRUPTED", "OK", "REFUSED", "USAGE", "UsageError", "View", "main", "parser"]


# --- commands -----------------------------------------------------------------------------


def cmd_login(args) -> int:
    stored = load_login()
    url = args.url or os.environ.get("EVOLAB_URL") or stored.get("url")
    if not url:
        url = (input(f"EvoLab URL [{DEFAULT_URL}]: ") if sys.stdin.isatty() else "").strip()
        url = url or DEFAULT_URL
    token = args.token or os.environ.get("EVOLAB_TOKEN")
    if not token:
        print("Make a token on the settings page (/accounts/settings/).", file=sys.stderr)
        token = getpass.getpass("Token: ") if sys.stdin.isatty() else sys.stdin.readline()
        token = token.strip()
    if not token:
        raise UsageError("No token given.")
    lab = EvoLab(url, token)
    teams = lab.teams()  # verifies the token: 401 when wrong
    path = save_login(lab.url, token)
    names = ", ".join(f"{t['name']} ({t['role']})" for t in teams) or "none yet"
    text = f"Logged in to {lab.url}; your teams: {names}.\nStored in {path} (mode 0600)."
    emit(args, {"url": lab.url, "teams": teams, "config": str(path)}, text)
    return OK


def cmd_logout(args) -> int:
    gone = forget_login()
    emit(args, {"removed": gone, "config": str(config_path())},
         f"Removed {config_path()}." if gone else "Not logged in.")  # fmt: skip
    return OK


def cmd_teams(args) -> int:
    teams = lab_for(args).teams()
    rows = [[t["id"], t["name"], t["role"]] for t in teams]
    emit(args, teams, _table(rows, ["ID", "NAME", "ROLE"]))
    return OK


def cmd_datasets(args) -> int:
    sets = lab_for(args).datasets()
    rows = [[d["name"], d["state"], d.get("train") or "-", d.get("val") or "-",
             d.get("test") or "-", d.get("title", "")] for d in sets]  # fmt: skip
    emit(args, sets, _table(rows, ["NAME", "STATE", "TRAIN", "VAL", "TEST", "TITLE"]))
    return OK


def cmd_runs_list(args) -> int:
    runs = lab_for(args).experiments.list(status=args.status, team=args.team, limit=args.limit)
    rows = [[r.id, r.name, r.status, r.individuals_trained, _acc(r.best_accuracy),
             _when(r.data.get("created"))] for r in runs]  # fmt: skip
    emit(args, [r.data for r in runs],
         _table(rows, ["ID", "NAME", "STATUS", "TRAINED", "BEST", "CREATED"]))  # fmt: skip
    return OK


def cmd_runs_show(args) -> int:
    run = lab_for(args).experiments.get(args.run)
    emit(args, run.data, run_summary(run))
    return OK


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_runs_create(args) -> int:
    config: dict[str, Any] = {}
    if args.config:
        try:
            with open(args.config) as f:
                config = json.load(f)
        except (OSError, ValueError) as exc:
            raise UsageError(f"--config {args.config}: {exc}") from None
        if not isinstance(config, dict):
            raise UsageError("--config must hold a JSON object.")
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set wants KEY=VALUE, not {item!r}")
        config[key.strip()] = _value(value)
    for key in ("dataset", "population", "workers", "steps_per_child", "max_individuals"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    if args.best is not None and args.from_run is None:
        raise UsageError("--best K needs --from-run ID (the run whose best K seed the new one).")
    seeds = _seeds(args)
    if seeds and args.from_run is not None:
        raise UsageError("--dna or --from-run: a run starts from DNA files or from a run.")
    lab = lab_for(args)
    warm = {"from_run": args.from_run, "best": args.best, "import_dna": seeds}
    run = lab.experiments.create(
        args.name, start=not args.no_start, team=args.team, **warm, **config
    )
    if args.wait:
        run.wait(progress=not args.json)
    emit(args, run.data, run_summary(run))
    return OK if run.status != "failed" else REFUSED


def _seeds(args) -> list:
    """--dna files, each with the --weights file of the same name (a.json, a.safetensors)."""
    dna, weights = args.dna or [], {}
    stems = [os.path.splitext(os.path.basename(path))[0] for path in dna]
    if len(set(stems)) < len(stems):
        raise UsageError("--dna: two files of the same name (weights go with a DNA by name).")
    for path in args.weights or []:
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem not in stems or stem in weights:
            raise UsageError(f"--weights {path}: goes with --dna {stem}.json (by name), once.")
        weights[stem] = path
    for path in [*dna, *weights.values()]:
        if not os.path.isfile(path):
            raise UsageError(f"{path}: no such file.")
    return [(path, weights.get(stem)) for path, stem in zip(dna, stems, strict=True)]


def cmd_runs_control(args) -> int:
    run = lab_for(args).experiments.get(args.run)
    result = run.clone() if args.verb == "clone" else getattr(run, args.verb)()
    text = (
        f"run {result.id} cloned from {run.id} (queued; start it with `evolab runs start "
        f"{result.id}`)"
        if args.verb == "clone"
        else f"run {result.id}: {result.status}"
        + (", evaluating its best on the test split" if args.verb == "evaluate" else "")
    )
    emit(args, result.data, text)
    return OK


def cmd_download(args) -> int:
    lab = lab_for(args)
    if args.format == "ensemble":
        if args.run is None or args.individual is not None:
            raise UsageError("--format ensemble downloads a run's ensemble: give RUN only.")
        path = lab.experiments.get(args.run).download_ensemble(args.output)
    else:
        if args.individual is not None:
            individual = lab.individual(args.individual)
            if args.run is not None and individual.experiment != args.run:
                raise UsageError(f"Individual {args.individual} is not of run {args.run}.")
        elif args.run is not None:
            individual = lab.experiments.get(args.run).best()
        else:
            raise UsageError("Say what to download: RUN (its best individual) or --individual ID.")
        path = individual.download(args.output, format=args.format)
    return _wrote(args, path)


def _wrote(args, path) -> int:
    size = path.stat().st_size
    emit(args, {"path": str(path), "bytes": size}, f"{path} ({size} bytes)")
    return OK


def cmd_import_dna(args) -> int:
    run = lab_for(args).experiments.get(args.run)
    ind = run.import_dna(args.file, args.weights)
    emit(args, ind.data, f"individual {ind.id} (#{ind.number}) seeded into run {run.id}")
    return OK


def cmd_report(args) -> int:
    run = lab_for(args).experiments.get(args.run)
    return _wrote(args, run.download_report(args.output, format=args.format))


# --- the parser ---------------------------------------------------------------------------
def _run_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a run or individual is a number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"ids start at 1, not {value}")
    return value


def parser() -> argparse.ArgumentParser:
    # The shared options work before and after the command (`evolab --json runs list` and
    # `evolab runs list --json`): the subcommands' copies default to SUPPRESS.
    def shared(suppress: bool) -> argparse.ArgumentParser:
        p = argparse.ArgumentParser(add_help=False)
        default = argparse.SUPPRESS if suppress else None
        p.add_argument("--url", default=default, help="the server (else EVOLAB_URL, or login)")
        p.add_argument("--token", default=default, help="an API token (else EVOLAB_TOKEN)")
        p.add_argument("--json", action="store_true",
                       default=argparse.SUPPRESS if suppress else False,
                       help="print the server's answer as JSON")  # fmt: skip
        return p

    common = [shared(True)]
    top = argparse.ArgumentParser(
        prog="evolab", parents=[shared(False)], description="EvoLab from the command line.",
        epilog="Exit codes: 0 ok, 1 the server refused (message on stderr), 2 usage error.",
    )  # fmt: skip
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("login", parents=common, help="store the server's URL and your token")
    p.set_defaults(func=cmd_login)
    sub.add_parser("logout", parents=common, help="forget the stored login").set_defaults(
        func=cmd_logout
    )
    sub.add_parser("teams", parents=common, help="your teams").set_defaults(func=cmd_teams)
    sub.add_parser("datasets", parents=common, help="datasets a run can use").set_defaults(
        func=cmd_datasets
    )

    runs = sub.add_parser("runs", help="list, show, create and control runs").add_subparsers(
        dest="runs_command", required=True, metavar="ACTION"
    )
    p = runs.add_parser("list", parents=common, help="runs of your teams, newest first")
    p.add_argument("--status", help="only runs in this status")
    p.add_argument("--team", type=int, help="only this team's runs")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p.set_defaults(func=cmd_runs_list)
    p = runs.add_parser("show", parents=common, help="one run")
    p.add_argument("run", type=_run_id)
    p.set_defaults(func=cmd_runs_show)
    p = runs.add_parser("create", parents=common, help="create a run (started unless --no-start)")
    p.add_argument("name")
    p.add_argument("--dataset")
    p.add_argument("--population", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--steps-per-child", dest="steps_per_child", type=int)
    p.add_argument("--max-individuals", dest="max_individuals", type=int)
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="any other setting (VALUE read as JSON when it is), repeatable",
    )
    p.add_argument("--config", metavar="FILE", help="settings from a JSON file")
    p.add_argument("--team", type=int, help="the team's id (needed in several teams)")
    p.add_argument("--no-start", action="store_true", help="leave it queued")
    p.add_argument("--wait", action="store_true", help="wait until it ends")
    p.add_argument(
        "--from-run",
        dest="from_run",
        type=_run_id,
        metavar="ID",
        help="warm start: seed the population with that run's alive individuals",
    )
    p.add_argument("--best", type=int, metavar="K", help="with --from-run: its best K instead")
    p.add_argument("--dna", action="append", metavar="FILE",
                   help="seed the population with this DNA (JSON), repeatable; "
                   "not with --from-run")  # fmt: skip
    p.add_argument("--weights", action="append", metavar="FILE",
                   help="weights (.safetensors) of the --dna file of the same name "
                   "(a.safetensors goes with a.json), repeatable")  # fmt: skip
    p.set_defaults(func=cmd_runs_create)
    for verb in ("start", "pause", "resume", "stop", "evaluate", "clone"):
        p = runs.add_parser(verb, parents=common, help=f"{verb} a run")
        p.add_argument("run", type=_run_id)
        p.set_defaults(func=cmd_runs_control, verb=verb)

    p = sub.add_parser("watch", parents=common, help="follow a run live until it ends")
    p.add_argument("run", type=_run_id)
    p.add_argument("--after", type=int, help="replay the events after this seq (0: all)")
    p.add_argument("--plain", action="store_true", help="text lines, no progress bar")
    p.add_argument("--progress", action="store_true", help="with --json: progress messages too")
    p.set_defaults(func=cmd_watch)

    what = "a run's best individual, another individual, or the ensemble"
    p = sub.add_parser("download", parents=common, help=what)
    p.add_argument("run", type=_run_id, nargs="?", help="the run (its best individual)")
    p.add_argument("--individual", "-i", type=_run_id, help="this individual instead")
    p.add_argument("--format", "-f", default="bundle", choices=[*DOWNLOAD_FORMATS, "ensemble"])
    p.add_argument("--output", "-o", help="file or directory (default: the server's name here)")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("import-dna", parents=common,
                       help="seed a run that has not started with a DNA file")  # fmt: skip
    p.add_argument("run", type=_run_id)
    p.add_argument("file", help="DNA JSON (as downloaded with --format dna)")
    p.add_argument("--weights", help="its weights, .safetensors")
    p.set_defaults(func=cmd_import_dna)

    p = sub.add_parser("report", parents=common,
                       help="a run's report, one self-contained HTML file or a PDF")  # fmt: skip
    p.add_argument("run", type=_run_id)
    p.add_argument("--output", "-o", help="file or directory (default: the server's name here)")
    p.add_argument("--format", "-f", choices=("html", "pdf"),
                   help="default: pdf if --output ends in .pdf, else html")  # fmt: skip
    p.set_defaults(func=cmd_report)
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)  # exits 2 on a usage error
    try:
        return args.func(args)
    except (UsageError, NotConfigured) as exc:
        message = exc.message if isinstance(exc, NotConfigured) else str(exc)
        print(f"evolab: error: {message}", file=sys.stderr)
        return USAGE
    except EvoLabError as exc:
        status = f" (HTTP {exc.status})" if exc.status else ""
        print(f"evolab: error: {exc.message}{status}", file=sys.stderr)
        return REFUSED
    except TimeoutError as exc:
        print(f"evolab: error: {exc}", file=sys.stderr)
        return REFUSED
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return INTERRUPTED
    return OK
