"""The names tracked events carry in `events.event`: written by the beacons, read by reports."""

from __future__ import annotations

IMPRESSION = "impression"
CLICK = "click"
REWARD = "reward"
# Video progress, by the name in the beacon URL (`/t/video/<name>`).
VIDEO = {
    "start": "video_start",
    "firstQuartile": "video_first_quartile",
    "midpoint": "video_midpoint",
    "thirdQuartile": "video_third_quartile",
    "complete": "video_complete",
}
VIDEO_COMPLETE = VIDEO["complete"]
