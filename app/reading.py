"""Read the digits in one uploaded image: preprocess, one model call, the JSON contract's shape."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from app import preprocess
from app.model import Model


def read_digits(data: bytes, model: Model, config: dict, *, single: bool = False,
                include_input: bool = False) -> dict:
    """The /predict answer for one image (see the README for every field)."""
    prepared = preprocess.prepare(
        data, threshold=config["THRESHOLD"], single=single,
        max_pixels=config["MAX_IMAGE_PIXELS"], max_digits=config["MAX_DIGITS"])
    probabilities = model.predict(prepared.batch)  # every digit of the image in one call
    digits = probabilities.argmax(axis=1).tolist()
    predictions = []
    for digit, probs, box, pixels in zip(digits, np.round(probabilities.astype(np.float64), 6).tolist(),
                                         prepared.boxes, prepared.batch, strict=True):
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


def input_data_url(pixels: np.ndarray) -> str:
    """The 28x28 image the model was given, as a PNG data URL (white ink on black)."""
    image = Image.fromarray(np.round(pixels[..., 0] * 255).astype(np.uint8), "L")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
