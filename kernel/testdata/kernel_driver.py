#!/usr/bin/python3
"""Drive a Jupyter kernel with the real jupyter_client and check it against a JSON case file.

Usage:
    JUPYTER_PATH=DIR /usr/bin/python3 kernel_driver.py --kernel NAME --cases CASES.json [--report OUT.json]

The kernelspec NAME must be findable (e.g. DIR/kernels/NAME/kernel.json with JUPYTER_PATH=DIR).
The case file is language-neutral, so the same driver checks the fake evaluator of the Go tests
and the real nnscope evaluator. Its shape:

{
  "kernel_info": {"implementation": "nnscope", "language": "go", "protocol_version": "5.3"},
  "steps": [ {"name": "...", <one action>, <expectations>}, ... ]
}

Actions and their expectations:
  "execute": CODE
      "status": "ok" | "error" | "aborted"   (default "ok", or "error" when "error" is given)
      "stdout" / "stderr": exact text of the concatenated stream messages
      "stdout_contains" / "stderr_contains": substring;  "stdout_len": length in characters
      "result": exact text/plain of execute_result;  "result_contains": substring
      "result_mime": a MIME type the execute_result must carry
      "error": ename;  "evalue_contains": substring
      "display": [MIME, ...] each carried by some display_data
      "min_updates": least number of update_display_data messages (with a display_id)
      "max_stream_msgs": most stream messages (checks that small writes are coalesced)
      "interrupt": "message" (KernelManager.interrupt_kernel, i.e. the kernelspec's interrupt_mode),
                   "control" (an explicit interrupt_request whose interrupt_reply is checked) or
                   "signal" (SIGINT to the kernel's process group); "interrupt_after": seconds (0.3)
      "alive_while_running": true  checks heartbeat and a control kernel_info_request before
                   interrupting
      "timeout": seconds (10)
  "complete": CODE, "cursor": N (code points, default end), "matches_include": [...],
      "cursor_start": N
  "inspect": CODE, "cursor": N, "found": BOOL, "text_contains": "..."
  "is_complete": CODE, "status": "complete"|"incomplete"|"invalid"|"unknown", "indent": "..."
  "history": true          (a history_reply with status ok)
  "comm_info": true        (a comm_info_reply with status ok)
  "bad_signature": true    (a request signed with a wrong key gets no reply; the kernel lives on)
  "latency": CODE, "n": N  (execute round trips, reply and idle both received; reported)
  "restart": true          (KernelManager.restart_kernel; then waits until ready; reported)
  "notebook": [{"code": CODE, "output_contains": TEXT}, ...]  (runs a notebook with nbclient)

The kernel is shut down at the end with a shutdown_request; the time until the process exits
is reported. A JSON report goes to stdout (and --report); the exit status is 1 on any failure.
"""

import argparse
import json
import os
import queue
import signal
import statistics
import sys
import time
import traceback

import jupyter_client
from jupyter_client import KernelManager
from jupyter_client.session import Session


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Driver:
    def __init__(self, kernel_name, startup_timeout=30):
        self.kernel_name = kernel_name
        self.startup_timeout = startup_timeout
        self.report = {"jupyter_client": jupyter_client.__version__, "kernel": kernel_name, "steps": []}
        self.failures = []

    # ---- lifecycle ----

    def start(self):
        t0 = time.perf_counter()
        self.km = KernelManager(kernel_name=self.kernel_name)
        self.km.start_kernel()
        t1 = time.perf_counter()
        # start_kernel spawns the process last: poll the heartbeat port to see when it is bound.
        bound = self.wait_bound(self.km.get_connection_info(), self.startup_timeout)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=self.startup_timeout)
        t2 = time.perf_counter()
        self.report["launch_s"] = round(t1 - t0, 4)
        self.report["ready_s"] = round(t2 - t0, 4)
        self.report["bound_after_launch_s"] = round(bound - t1, 4) if bound else None
        self.report["ready_after_launch_s"] = round(t2 - t1, 4)
        self.report["kernelspec_interrupt_mode"] = self.km.kernel_spec.interrupt_mode

    @staticmethod
    def wait_bound(info, timeout):
        """Returns when a TCP connection to the heartbeat port succeeds (None if not tcp)."""
        import socket
        if info.get("transport", "tcp") != "tcp":
            return None
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            try:
                socket.create_connection((info["ip"], info["hb_port"]), timeout=0.1).close()
                return time.perf_counter()
            except OSError:
                time.sleep(0.002)
        return None

    def stop(self):
        t0 = time.perf_counter()
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=False)
        dt = time.perf_counter() - t0
        self.report["shutdown_s"] = round(dt, 4)
        # jupyter_client waits up to shutdown_wait_time (5 s) for the process to exit by itself
        # and kills it after that: a fast shutdown means the kernel exited on its own.
        if dt >= self.km.shutdown_wait_time:
            self.failures.append("shutdown: kernel did not exit on shutdown_request (%.2fs)" % dt)
        if self.km.is_alive():
            self.failures.append("shutdown: kernel still alive")

    # ---- helpers ----

    def drain_iopub(self):
        while True:
            try:
                self.kc.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                return

    def shell_reply(self, msg_id, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("no shell reply to %s within %ss" % (msg_id, timeout))
            try:
                m = self.kc.get_shell_msg(timeout=left)
            except queue.Empty:
                continue
            if m["parent_header"].get("msg_id") == msg_id:
                return m

    def iopub_until_idle(self, msg_id, timeout):
        out = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("no idle status for %s within %ss (got %s)"
                              % (msg_id, timeout, [m["msg_type"] for m in out]))
            try:
                m = self.kc.get_iopub_msg(timeout=left)
            except queue.Empty:
                continue
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            out.append(m)
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                return out

    def control_request(self, msg_type, content=None, timeout=5):
        msg = self.kc.session.msg(msg_type, content or {})
        self.kc.control_channel.send(msg)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("no control reply to %s within %ss" % (msg_type, timeout))
            try:
                m = self.kc.get_control_msg(timeout=left)
            except queue.Empty:
                continue
            if m["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return m

    # ---- steps ----

    def run_steps(self, cases):
        self.step_kernel_info(cases.get("kernel_info", {}))
        for i, step in enumerate(cases.get("steps", [])):
            name = step.get("name") or "step %d" % i
            t0 = time.perf_counter()
            entry = {"name": name}
            try:
                extra = self.run_step(step)
                if extra:
                    entry.update(extra)
                entry["ok"] = True
            except Failure as e:
                entry["ok"] = False
                entry["failure"] = str(e)
                self.failures.append("%s: %s" % (name, e))
            except Exception as e:  # a driver bug or a broken kernel: report and go on
                entry["ok"] = False
                entry["failure"] = "%s: %s" % (type(e).__name__, e)
                self.failures.append("%s: %s\n%s" % (name, e, traceback.format_exc()))
            entry["s"] = round(time.perf_counter() - t0, 4)
            self.report["steps"].append(entry)

    def step_kernel_info(self, want):
        msg_id = self.kc.kernel_info()
        rep = self.shell_reply(msg_id, 10)["content"]
        self.report["kernel_info"] = {k: rep.get(k) for k in ("protocol_version", "implementation", "implementation_version")}
        self.report["kernel_info"]["language_info"] = rep.get("language_info")
        try:
            check(rep.get("status") == "ok", "kernel_info status %r" % rep.get("status"))
            for key, val in want.items():
                got = rep.get("language_info", {}).get("name") if key == "language" else rep.get(key)
                check(got == val, "kernel_info %s = %r, want %r" % (key, got, val))
            for key in ("protocol_version", "implementation", "language_info", "banner"):
                check(key in rep, "kernel_info lacks %s" % key)
            for key in ("name", "version", "mimetype", "file_extension"):
                check(key in rep["language_info"], "language_info lacks %s" % key)
        except Failure as e:
            self.failures.append("kernel_info: %s" % e)

    def run_step(self, step):
        if "execute" in step:
            return self.step_execute(step)
        if "complete" in step:
            return self.step_complete(step)
        if "inspect" in step:
            return self.step_inspect(step)
        if "is_complete" in step:
            return self.step_is_complete(step)
        if "history" in step:
            rep = self.shell_reply(self.kc.history(hist_access_type="tail", n=10), 10)
            check(rep["content"]["status"] == "ok", "history_reply %r" % rep["content"])
            return None
        if "comm_info" in step:
            rep = self.shell_reply(self.kc.comm_info(), 10)
            check(rep["content"]["status"] == "ok", "comm_info_reply %r" % rep["content"])
            return None
        if "bad_signature" in step:
            return self.step_bad_signature(step)
        if "latency" in step:
            return self.step_latency(step)
        if "restart" in step:
            return self.step_restart(step)
        if "notebook" in step:
            return self.step_notebook(step)
        raise Failure("unknown step %r" % step)

    def step_execute(self, step):
        timeout = step.get("timeout", 10)
        self.drain_iopub()
        msg_id = self.kc.execute(step["execute"])
        info = {}
        mode = step.get("interrupt")
        if mode:
            time.sleep(step.get("interrupt_after", 0.3))
            if step.get("alive_while_running"):
                check(self.kc.hb_channel.is_beating(), "heartbeat not beating while a cell runs")
                t0 = time.perf_counter()
                rep = self.control_request("kernel_info_request")
                check(rep["content"].get("status") == "ok", "control kernel_info while running")
                info["control_rtt_ms"] = round((time.perf_counter() - t0) * 1000, 2)
            t0 = time.perf_counter()
            if mode == "message":
                self.km.interrupt_kernel()
            elif mode == "control":
                rep = self.control_request("interrupt_request")
                check(rep["msg_type"] == "interrupt_reply" and rep["content"].get("status") == "ok",
                      "interrupt_reply %r" % rep["content"])
            elif mode == "signal":
                self.km.signal_kernel(signal.SIGINT)
            else:
                raise Failure("unknown interrupt mode %r" % mode)
        reply = self.shell_reply(msg_id, timeout)
        if mode:
            info["interrupt_to_reply_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        msgs = self.iopub_until_idle(msg_id, timeout)
        content = reply["content"]
        types = [m["msg_type"] for m in msgs]
        check(types[0] == "status" and msgs[0]["content"]["execution_state"] == "busy",
              "first iopub message is %s, not status busy" % types[0])

        want_status = step.get("status", "error" if "error" in step else "ok")
        check(content["status"] == want_status,
              "status %r, want %r (reply %r)" % (content["status"], want_status, content))
        if want_status != "aborted":
            check("execute_input" in types, "no execute_input on iopub (%s)" % types)
            ein = next(m for m in msgs if m["msg_type"] == "execute_input")
            check(ein["content"]["execution_count"] == content["execution_count"],
                  "execute_input count %r != reply count %r" % (ein["content"]["execution_count"], content["execution_count"]))

        streams = [m for m in msgs if m["msg_type"] == "stream"]
        text = {"stdout": "", "stderr": ""}
        for m in streams:
            text[m["content"]["name"]] += m["content"]["text"]
        for name in ("stdout", "stderr"):
            if name in step:
                check(text[name] == step[name], "%s %r, want %r" % (name, text[name], step[name]))
            if name + "_contains" in step:
                check(step[name + "_contains"] in text[name],
                      "%s %r lacks %r" % (name, text[name], step[name + "_contains"]))
        if "stdout_len" in step:
            check(len(text["stdout"]) == step["stdout_len"],
                  "stdout has %d characters, want %d" % (len(text["stdout"]), step["stdout_len"]))
        if "max_stream_msgs" in step:
            check(len(streams) <= step["max_stream_msgs"],
                  "%d stream messages, want at most %d" % (len(streams), step["max_stream_msgs"]))
        info["stream_msgs"] = len(streams)

        results = [m for m in msgs if m["msg_type"] == "execute_result"]
        if "result" in step or "result_contains" in step or "result_mime" in step:
            check(len(results) == 1, "%d execute_result messages, want 1" % len(results))
            data = results[0]["content"]["data"]
            check(results[0]["content"]["execution_count"] == content["execution_count"], "execute_result count")
            plain = data.get("text/plain")
            if "result" in step:
                check(plain == step["result"], "result %r, want %r" % (plain, step["result"]))
            if "result_contains" in step:
                check(plain is not None and step["result_contains"] in plain,
                      "result %r lacks %r" % (plain, step["result_contains"]))
            if "result_mime" in step:
                check(step["result_mime"] in data, "result lacks %s: %s" % (step["result_mime"], list(data)))

        errors = [m for m in msgs if m["msg_type"] == "error"]
        if want_status == "error":
            check(len(errors) == 1, "%d error messages on iopub, want 1" % len(errors))
            for key in ("ename", "evalue", "traceback"):
                check(key in content, "error reply lacks %s" % key)
            check(isinstance(content["traceback"], list), "traceback is not a list")
            if "error" in step:
                check(content["ename"] == step["error"], "ename %r, want %r" % (content["ename"], step["error"]))
            if "evalue_contains" in step:
                check(step["evalue_contains"] in content["evalue"],
                      "evalue %r lacks %r" % (content["evalue"], step["evalue_contains"]))
        else:
            check(not errors, "unexpected error on iopub: %r" % [e["content"] for e in errors])

        displays = [m for m in msgs if m["msg_type"] == "display_data"]
        for mime in step.get("display", []):
            check(any(mime in m["content"]["data"] for m in displays),
                  "no display_data with %s (got %s)" % (mime, [list(m["content"]["data"]) for m in displays]))
            if mime.startswith("image/") and not mime.endswith("svg+xml"):
                import base64
                d = next(m["content"]["data"][mime] for m in displays if mime in m["content"]["data"])
                raw = base64.b64decode(d, validate=True)
                if mime == "image/png":
                    check(raw[:8] == b"\x89PNG\r\n\x1a\n", "image/png is not a PNG")
        updates = [m for m in msgs if m["msg_type"] == "update_display_data"]
        if "min_updates" in step:
            check(len(updates) >= step["min_updates"],
                  "%d update_display_data, want at least %d" % (len(updates), step["min_updates"]))
            ids = {m["content"].get("transient", {}).get("display_id") for m in updates}
            check(None not in ids and "" not in ids, "update_display_data without display_id")
            first = {m["content"].get("transient", {}).get("display_id") for m in displays}
            check(ids <= first, "updates %s of displays never shown %s" % (ids, first))
        info["iopub"] = types if len(types) <= 12 else types[:12] + ["..."]
        return info

    def step_complete(self, step):
        code = step["complete"]
        cursor = step.get("cursor", len(code))
        rep = self.shell_reply(self.kc.complete(code, cursor), 10)["content"]
        check(rep["status"] == "ok", "complete_reply status %r" % rep["status"])
        for m in step.get("matches_include", []):
            check(m in rep["matches"], "matches %r lack %r" % (rep["matches"], m))
        if "cursor_start" in step:
            check(rep["cursor_start"] == step["cursor_start"], "cursor_start %r, want %r" % (rep["cursor_start"], step["cursor_start"]))
        check(rep["cursor_end"] >= rep["cursor_start"], "cursor_end < cursor_start")
        return {"matches": rep["matches"][:10]}

    def step_inspect(self, step):
        code = step["inspect"]
        cursor = step.get("cursor", len(code))
        rep = self.shell_reply(self.kc.inspect(code, cursor, step.get("detail_level", 0)), 10)["content"]
        check(rep["status"] == "ok", "inspect_reply status %r" % rep["status"])
        if "found" in step:
            check(rep["found"] == step["found"], "found %r, want %r" % (rep["found"], step["found"]))
        if "text_contains" in step:
            txt = rep.get("data", {}).get("text/plain", "")
            check(step["text_contains"] in txt, "inspect text %r lacks %r" % (txt, step["text_contains"]))
        return None

    def step_is_complete(self, step):
        rep = self.shell_reply(self.kc.is_complete(step["is_complete"]), 10)["content"]
        check(rep["status"] == step["status"], "is_complete %r, want %r" % (rep["status"], step["status"]))
        if "indent" in step:
            check(rep.get("indent") == step["indent"], "indent %r, want %r" % (rep.get("indent"), step["indent"]))
        return None

    def step_bad_signature(self, step):
        import zmq
        info = self.km.get_connection_info(session=False)
        bad = Session(key=b"definitely-not-the-key", signature_scheme=info["signature_scheme"])
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect("%s://%s:%d" % (info["transport"], info["ip"], info["shell_port"]))
        try:
            msg = bad.msg("kernel_info_request", {})
            bad.send(sock, msg)
            unsigned = Session(key=b"")
            unsigned.send(sock, unsigned.msg("kernel_info_request", {}))
            check(sock.poll(700) == 0, "kernel answered a badly signed request")
        finally:
            sock.close()
        # The kernel must still answer properly signed requests.
        rep = self.shell_reply(self.kc.kernel_info(), 5)
        check(rep["content"]["status"] == "ok", "kernel unusable after a bad signature")
        return None

    def step_latency(self, step):
        code, n = step["latency"], step.get("n", 100)
        self.drain_iopub()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            msg_id = self.kc.execute(code)
            rep = self.shell_reply(msg_id, 10)
            self.iopub_until_idle(msg_id, 10)
            times.append((time.perf_counter() - t0) * 1000)
            check(rep["content"]["status"] == "ok", "latency cell failed: %r" % rep["content"])
        times.sort()
        stats = {
            "n": n,
            "median_ms": round(statistics.median(times), 3),
            "p90_ms": round(times[int(0.9 * (n - 1))], 3),
            "min_ms": round(times[0], 3),
            "max_ms": round(times[-1], 3),
        }
        self.report.setdefault("latency", {})[code] = stats
        return stats

    def step_restart(self, step):
        t0 = time.perf_counter()
        self.km.restart_kernel(now=False)
        self.kc.wait_for_ready(timeout=self.startup_timeout)
        dt = time.perf_counter() - t0
        self.report["restart_s"] = round(dt, 4)
        check(dt < self.km.shutdown_wait_time, "restart took %.2fs: the kernel did not exit on shutdown_request" % dt)
        return {"restart_s": round(dt, 4)}

    def step_notebook(self, step):
        import nbformat
        from nbclient import NotebookClient
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(c["code"]) for c in step["notebook"]]
        t0 = time.perf_counter()
        NotebookClient(nb, kernel_name=self.kernel_name, timeout=step.get("timeout", 30)).execute()
        dt = time.perf_counter() - t0
        for i, (want, cell) in enumerate(zip(step["notebook"], nb.cells)):
            texts = []
            for o in cell.outputs:
                if o.output_type == "stream":
                    texts.append(o.text)
                elif o.output_type in ("execute_result", "display_data"):
                    texts.append(o.data.get("text/plain", ""))
                elif o.output_type == "error":
                    texts.append("%s: %s" % (o.ename, o.evalue))
            if "output_contains" in want:
                check(want["output_contains"] in "".join(texts),
                      "notebook cell %d outputs %r lack %r" % (i, texts, want["output_contains"]))
            check(cell.execution_count is not None, "notebook cell %d has no execution_count" % i)
        return {"notebook_s": round(dt, 4)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--kernel", required=True, help="kernelspec name")
    ap.add_argument("--cases", required=True, help="JSON case file")
    ap.add_argument("--report", help="also write the JSON report here")
    args = ap.parse_args()
    with open(args.cases) as f:
        cases = json.load(f)

    d = Driver(args.kernel)
    try:
        d.start()
    except Exception as e:
        print(json.dumps({"failures": ["start: %s: %s" % (type(e).__name__, e)]}, indent=1))
        return 1
    try:
        d.run_steps(cases)
    finally:
        try:
            d.stop()
        except Exception as e:
            d.failures.append("shutdown: %s: %s" % (type(e).__name__, e))
    d.report["failures"] = d.failures
    out = json.dumps(d.report, indent=1)
    print(out)
    if args.report:
        with open(args.report, "w") as f:
            f.write(out + "\n")
    return 1 if d.failures else 0


if __name__ == "__main__":
    sys.exit(main())
