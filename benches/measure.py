"""Shared by the bench scripts: run a command, time it, sample its peak anonymous
memory (RssAnon: heap and other anonymous pages, not a memory-mapped input)."""
import subprocess
import threading
import time


def _sample_anon(pid, box, stop):
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("RssAnon:"):
                        box[0] = max(box[0], int(line.split()[1]))
        except OSError:
            break
        time.sleep(0.01)


def run_once(cmd):
    """Runs cmd once; returns (seconds, peak anonymous KiB, exit code)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    box, stop = [0], threading.Event()
    th = threading.Thread(target=_sample_anon, args=(p.pid, box, stop))
    th.start()
    p.wait()
    stop.set()
    th.join()
    return time.perf_counter() - t, box[0], p.returncode
