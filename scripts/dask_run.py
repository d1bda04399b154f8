#!/usr/bin/env python3
"""Run a Kizashi plan's tiles on a Dask distributed cluster.

One Dask task per unfinished tile, each running `kizashi run PLAN/tiles/ID.toml` in its own
process (the tile job writes its outputs atomically and its completion record last), retried
on failure. Dask schedules; Kizashi has no scheduler of its own. Then merge with
`kizashi merge PLAN -o OUT`.

usage:
  dask_run.py PLAN [--scheduler tcp://HOST:8786 | --local N] [--retries 2] [--kizashi PATH]
                   [--threads T]

--local N starts a LocalCluster of N single-threaded worker processes on this machine (what
CI runs); --scheduler joins an existing cluster (dask-scheduler / dask-jobqueue / Kubernetes),
whose workers must see PLAN and the inputs at the same paths (shared or mounted storage).
--threads sets RAYON_NUM_THREADS for each tile process (default: cores / workers).
Prints a JSON summary (ran, skipped, failed); exit status 1 when a tile failed.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tile_done(plan, tile):
    """The same rule as `kizashi run PLAN/`: the completion record names this job file."""
    rec = os.path.join(plan, tile["output"], ".kizashi", "done.json")
    try:
        with open(rec) as f:
            return json.load(f).get("job_sha256") == sha256(os.path.join(plan, tile["job"]))
    except (OSError, ValueError):
        return False


def run_tile(exe, plan, tile, threads):
    """One tile, in its own process; raises with the tail of its error output on failure."""
    env = dict(os.environ)
    if threads:
        env["RAYON_NUM_THREADS"] = str(threads)
    job = os.path.join(plan, tile["job"])
    p = subprocess.run([exe, "run", job, "--json"], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"tile {tile['id']}: {p.stderr.strip()[-2000:]}")
    return tile["id"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("plan")
    ap.add_argument("--scheduler", help="address of a running Dask scheduler")
    ap.add_argument("--local", type=int, default=2, help="LocalCluster workers (default 2)")
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--kizashi", default=os.environ.get("KIZASHI", "kizashi"))
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()

    from dask.distributed import Client, LocalCluster, as_completed

    plan = os.path.abspath(a.plan)
    with open(os.path.join(plan, "manifest.json")) as f:
        manifest = json.load(f)
    tiles = manifest["tiles"]
    done = {t["id"] for t in tiles if tile_done(plan, t)}
    todo = [t for t in tiles if t["id"] not in done]
    skipped = sorted(done)
    summary = {"plan": plan, "ran": [], "skipped": skipped, "failed": []}
    if todo:
        if a.scheduler:
            client = Client(a.scheduler)
            threads = a.threads
        else:
            cluster = LocalCluster(n_workers=a.local, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
            threads = a.threads or max(1, (os.cpu_count() or 1) // a.local)
        futures = [
            client.submit(run_tile, a.kizashi, plan, t, threads, key=f"kizashi-tile-{t['id']}",
                          retries=a.retries, pure=False)
            for t in todo
        ]
        for fut in as_completed(futures, raise_errors=False):
            tid = fut.key.removeprefix("kizashi-tile-")
            if fut.status == "finished":
                summary["ran"].append(tid)
            else:
                summary["failed"].append([tid, str(fut.exception())])
        client.close()
        if not a.scheduler:
            cluster.close()
    summary["ran"].sort()
    summary["failed"].sort()
    print(json.dumps(summary, indent=2))
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
