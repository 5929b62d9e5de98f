#!/usr/bin/env python3
"""The HTML report (`--report R.html`) of a `vitq quantize --budget` run on the Fashion-MNIST ViT:
every number the page shows equals the JSON report's value at the place it names, the per-layer
chart has one bar per layer, the page loads nothing from outside and stays small, and headless
Chromium renders it (screenshot of the asked size that is not blank; its DOM has the bars)."""
import argparse
import html.parser
import json
import os
import re
import subprocess
import sys
import tempfile

from PIL import Image, ImageStat

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from e2e_checks import check, exit_code  # noqa: E402

DATA = os.path.join(REPO, "data", "fashion_mnist", "calib_x.npy")
MODEL = os.path.join(REPO, "tests", "data", "models", "fmnist_vit_op17.onnx")


def quantize_args(samples):
    """`samples` calibration and as many held-out samples."""
    return ["--data", DATA, "--labels", DATA.replace("calib_x", "calib_y"), "--calib-samples", str(samples),
            "--holdout", str(samples), "--wbits", "6", "--abits", "6", "--recipe", "minmax",
            "--budget", "top1_drop<=1", "--threads", "1"]


TIMING = {"seconds", "output_model"}  # timing, and the two runs write two models


class Page(html.parser.HTMLParser):
    """Elements carrying data-key, with their tag, class and text; the embedded report JSON."""

    def __init__(self):
        super().__init__()
        self.keyed, self.open_span, self.in_data, self.data = [], None, False, ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-key" in a:
            item = dict(tag=tag, cls=a.get("class", ""), key=a["data-key"], value=a["data-value"], text="")
            self.keyed.append(item)
            if tag == "span":
                self.open_span = item
        if tag == "script" and a.get("id") == "report-data":
            self.in_data = True

    def handle_endtag(self, tag):
        if tag == "span":
            self.open_span = None
        if tag == "script":
            self.in_data = False

    def handle_data(self, data):
        if self.open_span is not None:
            self.open_span["text"] += data
        if self.in_data:
            self.data += data


def resolve(doc, pointer):
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def shown(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    return "%.4g" % value


def strip_timing(doc):
    if isinstance(doc, dict):
        return {k: strip_timing(v) for k, v in doc.items() if k not in TIMING}
    if isinstance(doc, list):
        return [strip_timing(v) for v in doc]
    return doc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vitq", required=True)
    parser.add_argument("--screenshot", default=os.path.join(REPO, "scripts", "report_screenshot.sh"))
    parser.add_argument("--quick", action="store_true", help="32 samples each (for the sanitizer build)")
    args = parser.parse_args()
    quantize_flags = quantize_args(32 if args.quick else 64)
    with tempfile.TemporaryDirectory() as tmp:
        for ext in ("json", "html", "md"):
            proc = subprocess.run([args.vitq, "-q", "quantize", MODEL, "-o", os.path.join(tmp, f"q_{ext}.onnx"),
                                   "--report", os.path.join(tmp, f"r.{ext}")] + quantize_flags, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr)
        with open(os.path.join(tmp, "r.json")) as f:
            report = json.load(f)
        with open(os.path.join(tmp, "r.html"), encoding="utf-8") as f:
            page_text = f.read()
        with open(os.path.join(tmp, "r.md"), encoding="utf-8") as f:
            markdown = f.read()
        ranked_rows = [line for line in markdown.splitlines() if re.match(r"\| \d+ \| ", line)]
        check(f"### Budget {report['budget']['expression']}" in markdown and
              all(k["node"] in markdown for k in report["budget"]["kept"]) and
              len(ranked_rows) == len(report["sensitivity"]["layers"]) and
              f"labelled samples: float {report['accuracy']['float_top1']:.4g}" in markdown,
              f"the Markdown report has the budget, the {len(ranked_rows)}-row ranking and the labelled accuracy")
        page = Page()
        page.feed(page_text)
        embedded = json.loads(page.data)

        check(strip_timing({k: v for k, v in embedded.items() if k != "activation_histograms"}) == strip_timing(report),
              "the page embeds the JSON report (activation histograms added, timing aside)")
        bad = []
        for item in page.keyed:
            value = resolve(embedded, item["key"])
            if json.loads(item["value"]) != value or (item["tag"] == "span" and item["text"] != shown(value)):
                bad.append(f"{item['key']}: page {item['value']!r}/{item['text']!r}, JSON {value!r}")
        check(len(page.keyed) > 100 and not bad,
              f"{len(page.keyed)} numbers on the page equal the JSON's" + (": " + "; ".join(bad[:5]) if bad else ""))
        layer_bars = [i for i in page.keyed if i["tag"] == "rect" and re.fullmatch(r"/layers/\d+/sqnr_db", i["key"])]
        check(len(layer_bars) == len(report["layers"]) == 27, f"{len(layer_bars)} bars for {len(report['layers'])} layers")
        for section in ("Accuracy budget", "Sensitivity", "Activation ranges", "What the passes changed"):
            check(section in page_text, f"section '{section}' present")
        hist = embedded.get("activation_histograms", [])
        check(len(hist) == 6 and all(sum(h["bins"]) > 0 for h in hist), f"{len(hist)} activation histograms")
        external = re.findall(r"(?:src|href)\s*=|url\(|@import|https?://(?!www\.w3\.org/2000/svg)", page_text)
        check(not external, f"no external resources ({external[:3]})")
        size = os.path.getsize(os.path.join(tmp, "r.html"))
        check(size < 2_000_000, f"page size {size / 1024:.0f} KiB")

        png = os.path.join(tmp, "r.png")
        shot = subprocess.run([args.screenshot, os.path.join(tmp, "r.html"), png, "1280,2400"],
                              capture_output=True, text=True)
        check(shot.returncode == 0, f"headless Chromium screenshot ({shot.stderr.strip()[-200:]})")
        if shot.returncode == 0:
            image = Image.open(png).convert("L")
            spread = ImageStat.Stat(image).stddev[0]
            check(image.size == (1280, 2400) and spread > 20, f"screenshot {image.size}, pixel stddev {spread:.1f}")
        dom = subprocess.run([args.screenshot, os.path.join(tmp, "r.html"), "--dump-dom"],
                             capture_output=True, text=True).stdout
        rendered = len(re.findall(r'<rect class="bar[^"]*"[^>]*data-key="/layers/\d+/sqnr_db"', dom))
        check(rendered == len(report["layers"]), f"Chromium's DOM holds {rendered} layer bars")
    return exit_code()


if __name__ == "__main__":
    sys.exit(main())
