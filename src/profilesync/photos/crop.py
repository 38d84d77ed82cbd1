"""Where the avatar's square is cut from a photo: geometry only, no pixels (docs/design.md §4.4).

The three cuts of ``domain.Crop``:

- ``centre``: the centred square, the shorter side long (what profilesync always did).
- ``portrait``: a school photo is a portrait whose head sits in its upper part, and a centred square of a tall
  photo cuts the hair or forehead; the square is taken near the top instead. A wide photo is centred across.
- ``face``: the square is centred on the largest face the detector finds, big enough for the whole head, and
  falls back to ``portrait`` when there is no face (or no detector).

Every cut is clamped to the photo and never smaller than the avatar's edge when the photo allows, so the uploaded
edge is min(size, shorter side) whatever the cut: the choice changes what is shown, never the resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from profilesync.domain import Crop

# portrait: the square's top is this share of the way down the spare height (centre would be 0.5). A 3:4
# portrait then loses 5% of its height above the square instead of 12.5%: the hair stays, the chest is cut.
PORTRAIT_TOP: Final = 0.2
# face: a detector's box runs from the eyebrows to the lips or chin. The head needs this much more, in face
# heights: above for the forehead and hair, below for the chin and a little neck (so the cut is not at the chin).
HAIR_ABOVE: Final = 0.6
CHIN_BELOW: Final = 0.45
# ... and in face widths on each side, for the ears and hair; the square is the larger of the two extents.
EARS_BESIDE: Final = 0.3


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in pixels: ``left``/``top`` inclusive, ``width``×``height`` large."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def area(self) -> int:
        return self.width * self.height

    def contains(self, other: Box) -> bool:
        """Whether ``other`` lies wholly inside this box."""
        return (
            self.left <= other.left
            and self.top <= other.top
            and other.right <= self.right
            and other.bottom <= self.bottom
        )

    def scaled(self, factor: float) -> Box:
        """The box in an image ``factor`` times as large (the detector looks at a smaller copy)."""
        return Box(*(round(v * factor) for v in (self.left, self.top, self.width, self.height)))


def choose_square(
    width: int, height: int, crop: Crop, *, least: int, find_faces: Callable[[], Sequence[Box] | None]
) -> Box:
    """The square to cut from a ``width``×``height`` photo; ``find_faces`` is called for ``face`` only
    (None: no detector installed). ``least`` is the avatar's edge: a face cut is never smaller when it can be."""
    if crop is Crop.CENTRE:
        return centre_square(width, height)
    if crop is Crop.FACE:
        face = largest_face(find_faces() or ())
        if face is not None:
            return face_square(width, height, face, least=least)
    return portrait_square(width, height)


def centre_square(width: int, height: int) -> Box:
    """The centred square, the shorter side long."""
    side = min(width, height)
    return Box((width - side) // 2, (height - side) // 2, side, side)


def portrait_square(width: int, height: int) -> Box:
    """A tall photo's square near its top (PORTRAIT_TOP of the spare height); a wide one's centred across."""
    side = min(width, height)
    return Box((width - side) // 2, round((height - side) * PORTRAIT_TOP), side, side)


def largest_face(faces: Sequence[Box]) -> Box | None:
    """The portrait's subject: the largest face (a face in the background is smaller). A tie goes to the
    higher, then the further left, so the choice never depends on the order the detector reported them in."""
    return max(faces, key=lambda f: (f.area, -f.top, -f.left), default=None)


def head_box(face: Box) -> Box:
    """The face's box grown by the margins that keep the whole head (not yet square, not yet clamped)."""
    above, below, beside = (
        round(face.height * HAIR_ABOVE),
        round(face.height * CHIN_BELOW),
        round(face.width * EARS_BESIDE),
    )
    return Box(face.left - beside, face.top - above, face.width + 2 * beside, face.height + above + below)


def face_square(width: int, height: int, face: Box, *, least: int) -> Box:
    """The square centred on the head around ``face``: the head's larger extent long, at least ``least`` (up
    to the shorter side), slid back inside the photo where it would cross an edge."""
    head = head_box(face)
    short = min(width, height)
    side = min(short, max(head.width, head.height, least))
    left = _inside(head.left + (head.width - side) // 2, side, width)
    top = _inside(head.top + (head.height - side) // 2, side, height)
    return Box(left, top, side, side)


def _inside(start: int, side: int, limit: int) -> int:
    """``start`` moved as little as needed for [start, start + side) to fit in [0, limit)."""
    return max(0, min(start, limit - side))
