"""Read the digits in one uploaded image: preprocess, one model call, the JSON contract's shape."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from app import preprocess
from app.model import Model

PREVIEW_SIZE = 640  # a preview of the upload is at most this many pixels wide or tall


def read_digits(data: bytes, model: Model, config: dict, *, single: bool = False,
                include_input: bool = False) -> dict:
    """The /predict answer for one image (see the README for every field)."""
    prepared = preprocess.prepare(
        data, threshold=config["THRESHOLD"], single=single,
        max_pixels=config["MAX_IMAGE_PIXELS"], max_digits=config["MAX_DIGITS"])
    digits = len(prepared.boxes)
    inputs = np.concatenate([prepared.batch, prepared.parts]) if prepared.splits else prepared.batch
    probabilities = model.predict(inputs)  # every digit of the image, and every part of a split, in one call
    readings = touching(prepared, probabilities[:digits], probabilities[digits:])[:config["MAX_DIGITS"]]
    rounded = np.round(np.stack([probs for probs, _, _ in readings]).astype(np.float64), 6).tolist()
    predictions = []
    for probs, (raw, box, pixels) in zip(rounded, readings, strict=True):
        digit = int(raw.argmax())
        prediction = {"digit": digit, "confidence": probs[digit], "probabilities": probs, "box": list(box)}
        if include_input:
            prediction["input"] = input_data_url(pixels)
        predictions.append(prediction)
    one = predictions[0] if len(predictions) == 1 else None
    return {
        "digits": "".join(str(p["digit"]) for p in predictions),
        "digit": one["digit"] if one else None,
        "confidence": one["confidence"] if one else None,
        "probabilities": one["probabilities"] if one else None,
        "predictions": predictions,
        "model": model.version,
    }


def touching(prepared: preprocess.Prepared, whole: np.ndarray, parts: np.ndarray) -> list[tuple]:
    """(probabilities, box, model input) for each digit read, in reading order. A piece of ink that may be
    two to four touching digits is read as them when the geometric mean of their confidences beats its
    own confidence as one digit: the halves of a wide 4 read poorly as digits, a "23" written joined reads
    poorly as one."""
    readings = []
    for index in range(len(prepared.boxes)):
        best = [(whole[index], prepared.boxes[index], prepared.batch[index])]
        score = float(whole[index].max())
        for rows in prepared.splits.get(index, ()):
            confidence = float(np.exp(np.log(parts[rows].max(axis=1)).mean()))
            if confidence > score:
                best = [(parts[row], prepared.part_boxes[row], prepared.parts[row]) for row in rows]
                score = confidence
        readings += best
    return readings


def upload_preview(data: bytes, max_pixels: int) -> tuple[str, tuple[int, int]]:
    """The upload as a small data URL (at most PREVIEW_SIZE px a side), turned upright, and its size in the
    pixels its digit boxes refer to: for clients that cannot show the upload itself (HEIC, TIFF)."""
    image = preprocess.decode(data, max_pixels=max_pixels)
    size = image.info.get("original_size", image.size)
    try:
        image = image.convert("RGBA")
    except (ValueError, OSError):  # modes Pillow cannot turn into colour (16-bit grey): show the grey levels
        image = preprocess.gray_image(image)
    image.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
    buffer = io.BytesIO()
    if image.mode == "RGBA" and image.getextrema()[3][0] == 255:  # opaque: a photo compresses far better
        image.convert("RGB").save(buffer, format="JPEG", quality=85)
        kind = "jpeg"
    else:
        image.save(buffer, format="PNG")
        kind = "png"
    return f"data:image/{kind};base64," + base64.b64encode(buffer.getvalue()).decode("ascii"), size


def input_data_url(pixels: np.ndarray) -> str:
    """The 28x28 image the model was given, as a PNG data URL (white ink on black)."""
    image = Image.fromarray(np.round(pixels[..., 0] * 255).astype(np.uint8), "L")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
