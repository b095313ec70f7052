"""The CPU a streamed epoch's reading costs, with no training beside it: the thread that reads a job's row cache
back, shuffles the rows and cuts batches, timed with and without the job child's malloc setting
(`app.heap.keep_freed_memory`).

Each mode runs in a fresh process over the file of `bench/big_data.py` (`--data-dir` reuses it): epoch 1 decodes
the Parquet file and fills the row cache, epochs 2..N read it back, each in a thread of its own as a job's
read-ahead does; the figure is that thread's CPU-seconds (`time.thread_time`) per read-back epoch. Modes alternate
round by round. On two cores, every CPU-second the reader saves is one TensorFlow's steps can have.

    .venv/bin/python bench/stream_reader.py [--target] [--data-dir DIR] [--epochs 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import big_data  # bench/big_data.py: this script's own directory comes first on sys.path

MODES = ("glibc defaults", "freed memory kept")


def child(record_path: Path, mode: str, epochs: int, batch_size: int) -> None:
    """In a fresh process: the epochs' reading-thread CPU-seconds, as one JSON list."""
    from app.datasets.schemas import DatasetInfo
    from app.datasets.streamed import RowSplit, StreamedDataset
    from app.heap import keep_freed_memory
    from app.training.epochs import READ_ROWS, StreamedRows
    from app.training.row_cache import RowCache

    if mode == MODES[1]:
        assert keep_freed_memory()
    data = StreamedDataset(DatasetInfo.model_validate_json(record_path.read_text()))
    cache = RowCache(record_path.parent / f"row-cache-{os.getpid()}.bin", data, batch_rows=READ_ROWS)
    rows = StreamedRows(data=data, split=RowSplit(), encode=lambda y: y, cache=cache)
    seconds: list[float] = []

    def epoch(number: int) -> None:
        started = time.thread_time()
        for _batch in rows.batches(batch_size=batch_size, seed=0, epoch=number, shuffle=True):
            pass
        seconds.append(time.thread_time() - started)

    try:
        for number in range(epochs):
            reader = threading.Thread(target=epoch, args=(number,), name="read-ahead")
            reader.start()
            reader.join()
    finally:
        cache.close()
    print(json.dumps(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--target", action="store_true", help=f"{big_data.TARGET_ROWS:,} rows (~4 GB)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--data-dir", type=Path, help="keep the generated file here and reuse it (default: temp dir)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.record, args.child, args.epochs, args.batch_size)
    rows = big_data.TARGET_ROWS if args.target else args.rows
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    with ExitStack() as stack:
        folder = args.data_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="maas-reader-")))
        record_path = big_data.dataset_record(folder, rows, big_data.FEATURES)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        for _round in range(args.rounds):
            for mode in MODES:
                command = [sys.executable, __file__, "--child", mode, "--record", str(record_path)]
                command += ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
                out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                cpu[mode] += json.loads(out.stdout.strip().splitlines()[-1])[1:]
    print(f"{rows:,} rows x {big_data.FEATURES}, batch {args.batch_size}, {args.rounds} rounds x {args.epochs - 1}")
    print("read-back epochs; load average", " ".join(f"{v:.2f}" for v in os.getloadavg()))
    print("\n| malloc | reading thread CPU s per epoch, median | min | max |\n|---|---:|---:|---:|")
    for mode, seconds in cpu.items():
        print(f"| {mode} | {statistics.median(seconds):.2f} | {min(seconds):.2f} | {max(seconds):.2f} |")


if __name__ == "__main__":
    main()
