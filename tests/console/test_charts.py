"""The server-drawn SVG charts: well-formed SVG, escaped labels, lengths to scale."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from robot.console.charts import Bar, Series, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_bars_are_to_scale_with_their_values_written_and_labels_escaped():
    svg = bar_chart([Bar("<script>alert(1)</script>", 30), Bar("网络贷款 & co", 15, shown="15 (50 %)")], title="A \"title\"")
    root = ET.fromstring(svg)  # well-formed XML: nothing unescaped got through
    assert root.find(f"{SVG}title").text == 'A "title"'
    rects = root.findall(f".//{SVG}rect")
    assert float(rects[0].get("width")) == pytest.approx(2 * float(rects[1].get("width")))
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert "<script>alert(1)</script>" in texts and "网络贷款 & co" in texts and "15 (50 %)" in texts
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_no_bars_says_so():
    root = ET.fromstring(bar_chart([], title="t", empty="nothing yet"))
    assert root.findall(f".//{SVG}rect") == [] and "nothing yet" in "".join(root.itertext())


def test_lines_put_each_value_at_its_height_on_round_ticks():
    svg = line_chart(["0h", "1h", "2h"], [Series("calls", [0, 7, 3]), Series("answered <b>", [0, 4, 1])], title="by hour")
    root = ET.fromstring(svg)
    groups = root.findall(f"{SVG}g")
    assert [g.get("data-name") for g in groups] == ["calls", "answered <b>"]
    circles = groups[0].findall(f"{SVG}circle")
    assert [c.get("data-value") for c in circles] == ["0", "7", "3"]
    ys = [float(c.get("cy")) for c in circles]
    # The axis runs 0 to 8 (ticks 0 2 4 6 8): 0 is at the bottom, 7 at 7/8 of the height.
    bottom, top = ys[0], ys[0] - (ys[0] - ys[1]) * 8 / 7
    assert ys[2] == pytest.approx(bottom - (bottom - top) * 3 / 8, abs=0.1)
    tick_labels = [t.text for t in root.findall(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert tick_labels == ["0", "2", "4", "6", "8"]
    with pytest.raises(ValueError, match="one value per x label"):
        line_chart(["a"], [Series("x", [1, 2])], title="t")
