"""A page's words, from a PDF's text layer or OCR, and where each lies on the page."""

from dataclasses import dataclass
from typing import Any

# x0, y0, x1, y1 as fractions of the page from its top left.
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Word:
    """A word of a page (from a PDF's text layer or OCR) and its box."""

    text: str
    box: Box
    # How sure OCR was of its reading, 0 to 1 (a text layer's words are sure).
    confidence: float = 1.0

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "box": list(self.box), "confidence": round(self.confidence, 3)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Word":
        x0, y0, x1, y1 = data["box"]
        return cls(data["text"], (x0, y0, x1, y1), data.get("confidence", 1.0))
