"""One training job under a distributed launcher: `accelerate launch ... -m alignkit.train_worker
JOB.json`. Every process runs this; TRL's trainer shards the data across them, and the main
process saves the model and writes the job's info file."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from alignkit.config import TrainConfig
from alignkit.train import train


def main(job_path: str) -> None:
    from alignkit.data.store import atomic_write_json

    job = json.loads(Path(job_path).read_text())
    rows = json.loads(Path(job["rows"]).read_text())
    info = train(job["method"], rows, TrainConfig.model_validate(job["cfg"]), job["model"], Path(job["work_dir"]),
                 Path(job["out_dir"]), **job.get("load", {}))
    if int(os.environ.get("RANK", "0")) == 0:
        info["processes"] = int(os.environ.get("WORLD_SIZE", "1"))
        atomic_write_json(Path(job["info"]), info)


if __name__ == "__main__":
    main(sys.argv[1])
