"""Documents as bytes: a page image drawn on white paper."""

import io

from PIL import Image

from bpo_intake.domain.documents import MediaType, render


def test_a_transparent_image_is_drawn_on_white_paper() -> None:
    picture = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    picture.putpixel((5, 5), (0, 0, 0, 255))
    out = io.BytesIO()
    picture.save(out, "PNG")
    (page,) = render(MediaType.PNG, out.getvalue())
    drawn = Image.open(io.BytesIO(page.image)).convert("RGB")
    assert drawn.getpixel((30, 15)) == (255, 255, 255)
    darkest = min(drawn.convert("L").tobytes())
    assert darkest < 100, "the black dot stays dark"
