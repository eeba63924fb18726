"""The dashboard's counters and chart (`#stats`), read once per push for every dashboard."""

from typing import Any

from payments.selectors import dashboard_stats

PARTIAL = "dashboard/dashboard.html#stats"
CHART_WIDTH, CHART_HEIGHT = 300, 64

read = dashboard_stats


def chart_bars(per_minute: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bars of a small SVG chart, tallest bar at full height; geometry here, not in the template."""
    peak = max((m["count"] for m in per_minute), default=0) or 1
    slot = CHART_WIDTH / max(len(per_minute), 1)
    bars = []
    for i, minute in enumerate(per_minute):
        height = round(minute["count"] / peak * (CHART_HEIGHT - 14), 1)
        bars.append(
            {
                "x": round(i * slot + 1, 1),
                "width": round(slot - 2, 1),
                "y": round(CHART_HEIGHT - height, 1),
                "height": height,
                "count": minute["count"],
                "minute": minute["minute"][11:16],
            }
        )
    return bars


def context(stats: dict[str, Any]) -> dict[str, Any]:
    ratio = stats["success_ratio"]
    median = stats["median_settle_seconds"]
    return {
        "s": stats,
        "ratio": "—" if ratio is None else f"{ratio:.0%}",
        "median": "—" if median is None else f"{median:.1f} s",
        "bars": chart_bars(stats["per_minute"]),
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT,
        "per_minute_total": sum(m["count"] for m in stats["per_minute"]),
        "this_minute": stats["per_minute"][-1]["count"] if stats["per_minute"] else 0,
    }
