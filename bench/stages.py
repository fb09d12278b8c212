"""Where a /predict request's time goes, stage by stage, in one process (no HTTP), per benchmark image.

    python -m bench.stages                 # a table of per-stage times
    python -m bench.stages --pyinstrument  # and a pyinstrument call tree per image

Times are CPU time of the whole process (all threads), median of many repeats after a warm-up, on one
TensorFlow thread (as each worker of `digits serve` runs on two cores): CPU time, unlike wall time, does not
count the waits for a core on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from bench.load import IMAGES

REPEATS = 200


def _cpu_ms(step: Callable[[], object], repeats: int) -> float:
    for _ in range(max(3, repeats // 10)):
        step()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return statistics.median(times) * 1e3


def stage_times(data: bytes, loaded, settings: dict, repeats: int = REPEATS) -> dict[str, float]:
    """Milliseconds per stage of app.reading.read_digits for one upload."""
    from app import preprocess
    from app.reading import read_digits
    from app.segment import find_digits

    limit = settings["MAX_IMAGE_PIXELS"]
    image = preprocess.decode(data, max_pixels=limit, coarse=True)
    factor = preprocess.coarse_reduction(*image.info["original_size"])  # the first reading (see prepare)
    gray, _ = preprocess.to_gray(image, factor)
    ink = preprocess.ink_image(gray)
    mask = ink >= settings["THRESHOLD"]
    digits = find_digits(mask)
    batch = preprocess.prepare(data).batch
    times = {
        "decode": _cpu_ms(lambda: preprocess.decode(data, max_pixels=limit, coarse=True), repeats),
        "to_gray": _cpu_ms(lambda: preprocess.to_gray(preprocess.decode(data, max_pixels=limit, coarse=True),
                                                      factor), repeats),
        "ink_image": _cpu_ms(lambda: preprocess.ink_image(gray), repeats),
        "find_digits": _cpu_ms(lambda: find_digits(ink >= settings["THRESHOLD"]), repeats),
        "normalize": _cpu_ms(lambda: [preprocess.normalize_digit(ink, d) for d in digits], repeats),
        "model": _cpu_ms(lambda: loaded.predict(batch), repeats),
        "read_digits": _cpu_ms(lambda: read_digits(data, loaded, settings), repeats),
    }
    times["to_gray"] -= times["decode"]
    times["digits"] = len(digits)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow intra-op threads")
    parser.add_argument("--pyinstrument", action="store_true", help="also print a call tree per image")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from app import config, model
    from app.reading import read_digits

    model.configure_threads(args.threads)
    settings = config.from_env()
    loaded = model.load(settings["MODEL_DIR"], runtime=settings["MODEL_RUNTIME"], threads=args.threads)
    print(f"model version {loaded.version}, runtime {loaded.runtime}")
    columns = ("decode", "to_gray", "ink_image", "find_digits", "normalize", "model", "read_digits")
    print(f"{'image':<16}{'digits':>7}" + "".join(f"{c:>13}" for c in columns) + "   (CPU ms, median)")
    for name, (path, _) in IMAGES.items():
        data = path.read_bytes()
        times = stage_times(data, loaded, settings, args.repeats)
        print(f"{name:<16}{times['digits']:>7}" + "".join(f"{times[c]:>13.3f}" for c in columns))
        if args.pyinstrument:
            from pyinstrument import Profiler

            with Profiler(interval=0.0002) as profiler:
                for _ in range(args.repeats):
                    read_digits(data, loaded, settings)
            print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
