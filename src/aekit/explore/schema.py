"""The explorer API's request bodies (pydantic): strict fields (no extra keys, no strings for
numbers, finite numbers only), bounded sizes. Values are checked again by the session (code length
and range, labels, indices), which knows the model."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .session import MAX_BODY, MAX_K, MAX_STEPS, MAX_VALUES


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


Label = Field(None, ge=0, le=100_000, description="class index (models with labels; names in /api/info: classes)")


class DecodeRequest(Strict):
    z: list[float] = Field(..., min_length=1, max_length=MAX_VALUES, description="a code, latent_dim numbers")
    label: int | None = Label
    format: Literal["png", "json"] = Field("png", description="png: the image; json: a data URL, series values or text")


class EncodeRequest(Strict):
    x: list[float] | list[list[float]] | list[list[list[float]]] | None = Field(
        None, description="the example's values in the data's units, flat or in its shape (not with image)")
    image: str | None = Field(None, max_length=MAX_BODY, description="a base64 PNG/JPEG or data URL (image models)")
    label: int | None = Label
    center: bool = Field(True, description="one-channel images: crop, scale to 20/28 and centre by mass, as MNIST")
    k: int = Field(8, ge=1, le=MAX_K, description="neighbours to list")


class InterpolateRequest(Strict):
    from_: int = Field(..., alias="from", ge=0, description="index of an example on the map")
    to: int = Field(..., ge=0, description="index of an example on the map")
    steps: int = Field(8, ge=2, le=MAX_STEPS)
    method: Literal["linear", "spherical"] = "linear"
    label: int | None = Label


class NeighboursRequest(Strict):
    index: int | None = Field(None, ge=0, description="an example on the map (or give z)")
    z: list[float] | None = Field(None, min_length=1, max_length=MAX_VALUES, description="a code (or give index)")
    k: int = Field(8, ge=1, le=MAX_K)

