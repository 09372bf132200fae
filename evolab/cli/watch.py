"""`evolab watch RUN`: a run followed live in the terminal (evolab.cli)."""

from __future__ import annotations

import json
import sys

from evolab.client import Run

from .common import OK, REFUSED, _acc, lab_for, run_summary


class View:
    """The live terminal view: a bar of the budget (individuals trained), best so far, the
    children in training; plain text lines when not in a terminal."""

    def __init__(self, run: Run, tty: bool) -> None:
        self.run, self.tty = run, tty
        self.best = run.best_accuracy
        # In training: individual id -> (number, worker, step, steps).
        self.training: dict[int, tuple[int, str, int, int]] = {}
        self.bar = None
        if tty:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=run.config.get("max_individuals"),
                                initial=run.individuals_trained, unit="ind",
                                desc=f"run {run.id}", dynamic_ncols=True)  # fmt: skip
                self._postfix()

    def line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def _postfix(self) -> None:
        if self.bar is None:
            return
        children = " ".join(
            f"#{n}:{100 * step // steps if steps else 0}%"
            for n, _, step, steps in sorted(self.training.values())[:6]
        )
        self.bar.set_postfix_str(f"best {_acc(self.best)} | training {children or '-'}")

    def show(self, event) -> None:
        d, kind = event.data, event.kind
        if kind == "progress":
            if d.get("id") in self.training:
                number, worker, _, _ = self.training[d["id"]]
                self.training[d["id"]] = (number, worker, d.get("step", 0), d.get("steps") or 0)
            self._postfix()
            return
        if kind == "started":
            self.training[d["id"]] = (d.get("number", 0), d.get("worker", ""), 0,
                                      self.run.config.get("steps_per_child") or 0)  # fmt: skip
            if self.bar is None:
                what = f" from {d['parent']} ({d['mutation']})" if d.get("parent") else ""
                self.line(f"training #{d.get('number')} on {d.get('worker')}{what}")
        elif kind == "birth":
            self.training.pop(d["id"], None)
            acc = d.get("val_accuracy")
            new_best = acc is not None and (self.best is None or acc > self.best)
            if new_best:
                self.best = acc
            mutation = f" {d['mutation']}" if d.get("mutation") else ""
            self.line(f"#{d['number']} trained: val {_acc(acc)}{mutation}, "
                      f"{(d.get('flops') or 0) / 1e6:.2f} MFLOPs"
                      + ("  <- best so far" if new_best else ""))  # fmt: skip
            if self.bar is not None:
                self.bar.update(1)
        elif kind == "failed":
            self.training.pop(d["id"], None)
            self.line(f"individual {d['id']} failed: {d.get('reason', '')}")
        elif kind == "status":
            if self.bar is not None and d.get("individuals_trained") is not None:
                self.bar.n = d["individuals_trained"]
            best = (d.get("best") or {}).get("val_accuracy")
            self.best = best if best is not None else self.best
            reason = f" ({d['reason']})" if d.get("reason") else ""
            self.line(f"status: {d.get('status')}{reason}")
        elif kind == "result":
            self.line(f"test accuracy {_acc(d.get('test_accuracy'))}, "
                      f"ensemble {_acc(d.get('ensemble_test_accuracy'))}")  # fmt: skip
        self._postfix()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_watch(args) -> int:
    run = lab_for(args).experiments.get(args.run)
    after = run.last_seq if args.after is None else args.after
    view = None if args.json else View(run, sys.stderr.isatty() and not args.plain)
    try:
        if not (run.terminal and after >= run.last_seq):
            for event in run.watch(after, progress=not args.json or args.progress):
                if args.json:
                    print(json.dumps({"seq": event.seq, "kind": event.kind, "data": event.data}),
                          flush=True)  # fmt: skip
                else:
                    view.show(event)
    finally:
        if view is not None:
            view.close()
    run.refresh()
    if not args.json:
        print(run_summary(run))
    if run.status == "failed":
        print(f"evolab: run {run.id} failed: {run.data.get('failure_reason')}", file=sys.stderr)
        return REFUSED
    return OK
