"""The inline explorers in a real browser: Debian's headless Chromium, driven by Playwright, network off.

A page with both explorers (each output carries its own copy of the script, as on a book page) is
opened from a file. Every control is moved the way a reader moves it (menus, radio buttons,
sliders with the keyboard, a click on a patch, arrow keys on the image); after each move the test
asserts that the canvases changed, that the text names the new view, and, at the end, that the
drawn numbers are the model's. No request may leave the page.

Chromium comes from the system (``apt-get install chromium``; ``.ci/run`` installs it), never from
``playwright install``. Without it the test fails under CI (``CI`` set) and is skipped elsewhere,
with the command that installs it.
"""
import os
import shutil

import numpy as np
import pytest
from matplotlib import colormaps
from PIL import Image

from anoclip import AnoCLIP
from anoclip.data import make_synthetic_dataset
from anoclip.protocol import resize_mask
from anoclip_book.viz import attention_from_patch, dataset_samples, inline_attention_explorer, inline_heatmap_explorer

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


def chromium_or_reason():
    """(the Chromium binary, None) or (None, why the browser test cannot run)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None, "the Python package playwright is missing: pip install -e './book[test]' (make install does)"
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")  # Debian's, or a CI runner's Chrome
    binary = next(filter(None, map(shutil.which, names)), None)
    if binary is None:
        return None, "Debian's chromium is missing: apt-get install -y chromium (.ci/run installs it)"
    return binary, None


@pytest.fixture(scope="module")
def browser():
    binary, reason = chromium_or_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"The browser test must run in CI, but {reason}.")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=binary, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page_of_explorers(tmp_path_factory, tiny):
    root = make_synthetic_dataset(tmp_path_factory.mktemp("browser") / "synthetic", categories=("bottle", "grid"),
                                  n_train=0, n_test_good=0, n_test_defect=2)
    samples, names = dataset_samples(root, ("bottle", "grid"), per_class=2)
    labels = [f"{c} {n}" for c in names for n in names[c]]
    pairs = [pair for c in samples for pair in samples[c]]
    model = tiny.with_config(prompts="plain")
    attention = inline_attention_explorer(tiny, [image for image, _ in pairs], names=labels, masks=[mask for _, mask in pairs])
    heatmap = inline_heatmap_explorer(model, samples, names)
    path = tmp_path_factory.mktemp("page") / "explorers.html"
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>explorers</title></head><body>"
                    f"<p>Two explorers, two copies of the script.</p>{attention.html}<hr>{heatmap.html}</body></html>", encoding="utf-8")
    return {"path": path, "pairs": pairs, "labels": labels, "samples": samples, "model": model}


class Explorer:
    """One explorer on the page: move a control, wait for the redraw, read what it drew and says."""

    def __init__(self, page, name):
        self.page = page
        self.root = page.locator(f'[data-explorer="{name}"]')
        page.wait_for_function("r => r.hasAttribute('data-first-draw-ms') || r.hasAttribute('data-error')",
                               arg=self.root.element_handle(), timeout=20_000)
        assert self.root.get_attribute("data-error") is None, self.root.get_attribute("data-error")

    def control(self, label):
        found = self.root.get_by_label(label, exact=True)
        assert found.evaluate("node => node.tagName") in ("INPUT", "SELECT")
        return found

    def pixels(self):
        return self.root.evaluate("r => Array.from(r.querySelectorAll('canvas'), c => c.toDataURL()).join()")

    def text(self):
        return self.root.locator(".anoclip-explorer-status").inner_text()

    def view(self):
        return self.root.evaluate("r => r.anoclipView()")

    def move(self, action, *says):
        """Do ``action``; assert a redraw that changed the canvases and a text naming each of ``says``."""
        draws, pixels = int(self.root.get_attribute("data-draws")), self.pixels()
        action()
        self.page.wait_for_function("([r, n]) => Number(r.getAttribute('data-draws')) > n || r.hasAttribute('data-error')",
                                    arg=[self.root.element_handle(), draws], timeout=20_000)
        assert self.root.get_attribute("data-error") is None, self.root.get_attribute("data-error")
        assert self.pixels() != pixels, f"{says}: nothing was redrawn"
        text = self.text()
        for part in says:
            assert part in text, (part, text)
        return self.view()

    def slide(self, label, key, times=1):
        control = self.control(label)
        control.focus()
        for _ in range(times):
            self.page.keyboard.press(key)

    def patch_colours(self, grid):
        """RGB at the centre of every patch of the attention map (at opacity 1, the overlay's own colour)."""
        return np.array(self.root.evaluate("""(root, grid) => {
            const canvas = root.querySelectorAll('canvas')[1], context = canvas.getContext('2d'), out = [];
            for (let row = 0; row < grid[0]; row++) for (let col = 0; col < grid[1]; col++) {
              const x = Math.floor((col + 0.5) * canvas.width / grid[1]), y = Math.floor((row + 0.5) * canvas.height / grid[0]);
              out.push(Array.from(context.getImageData(x, y, 1, 1).data.slice(0, 3)));
            }
            return out; }""", list(grid)))


def expected_colours(view, levels, cmap="inferno"):
    """The colour map at the middle of each drawn value's level, as the figures' colour map paints it."""
    code = np.round(np.asarray(view["values"]) / view["max"] * levels - 0.5)
    return np.round(colormaps[cmap]((code + 0.5) / levels)[:, :3] * 255)


def test_explorers_draw_every_view_offline_in_chromium(browser, page_of_explorers, tiny):
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 1000})
    page = context.new_page()
    requests, left = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://")
               else (left.append(route.request.url), route.abort()))
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script("""window.inflated = 0; const Inflate = window.DecompressionStream;
        window.DecompressionStream = class extends Inflate { constructor(format) { super(format); window.inflated += 1; } };""")
    url = page_of_explorers["path"].as_uri()
    page.goto(url)

    attention = Explorer(page, "attention")
    heatmap = Explorer(page, "heatmap")
    assert page.evaluate("window.anoclipExplorers.started") == 2  # two copies of the script, each explorer started once
    # the first views decode only what they show: one image's mask and block (attention), one sample (heat maps)
    assert page.evaluate("window.inflated") == 3
    for explorer in (attention, heatmap):
        assert float(explorer.root.get_attribute("data-first-draw-ms")) > 0
        assert "SMOKE MODE" not in explorer.root.inner_text()  # the tests build in real mode: no banner

    # ---- attention: image, path, head, block, a click, the keyboard, sliders, opacity
    labels, grid, size = page_of_explorers["labels"], tiny.grid, tiny.image_size
    last = len(tiny.clip.visual.transformer.resblocks) - 1
    view = attention.view()
    assert (view["image"], view["path"], view["block"], view["head"]) == (labels[0], "q-k", last, "mean")
    assert labels[0] in attention.text() and f"block {last}, mean over heads" in attention.text()
    view = attention.move(lambda: attention.control("image").select_option(index=2), labels[2])
    assert page.evaluate("window.inflated") == 5  # the second image is decoded when it is chosen
    mask = resize_mask(page_of_explorers["pairs"][2][1], (size, size))
    assert mask.any()
    attention.move(lambda: attention.control("v-v").check(), "v-v path")
    attention.move(lambda: attention.control("head").select_option("2"), f"block {last}, head 2")
    attention.move(lambda: attention.slide("block", "ArrowLeft"), f"block {last - 1}, mean over heads")
    assert attention.control("head").is_disabled()  # per-head maps exist for the last block only
    attention.move(lambda: attention.slide("block", "End"), f"block {last}, mean over heads")
    canvas = attention.root.locator("canvas").nth(1)
    box = canvas.bounding_box()
    attention.move(lambda: canvas.click(position={"x": 5.5 * box["width"] / grid[1], "y": 1.5 * box["height"] / grid[0]}),
                   "query patch (row 1, column 5)")
    attention.move(lambda: (canvas.focus(), page.keyboard.press("ArrowDown")), "query patch (row 2, column 5)")
    attention.move(lambda: attention.slide("query column", "Home"), "query patch (row 2, column 0)")
    attention.move(lambda: attention.slide("query row", "ArrowUp"), "query patch (row 3, column 0)")
    before = attention.text()
    view = attention.move(lambda: attention.slide("opacity", "ArrowLeft", 4))
    assert attention.text() == before and attention.control("opacity").input_value() == "0.6"

    view = attention.move(lambda: attention.slide("opacity", "End"))
    np.testing.assert_array_equal(attention.patch_colours(grid), expected_colours(view, 256))  # matplotlib's inferno

    image = page_of_explorers["pairs"][2][0].resize((size, size), Image.BILINEAR)
    taps = AnoCLIP.encode_image(tiny, tiny.preprocess([image]), taps=True).taps
    expected = attention_from_patch(taps.vv_attention[last][0], 3, 0, grid).ravel()
    assert (view["path"], view["block"], view["row"], view["col"]) == ("v-v", last, 3, 0)
    assert view["max"] == pytest.approx(float(expected.max()), rel=1e-5)
    assert np.abs(np.asarray(view["values"]) - expected).max() <= expected.max() / 256

    # ---- heat maps: image, prompts, smoothing, TTA, threshold, opacity
    model, samples = page_of_explorers["model"], page_of_explorers["samples"]
    first = heatmap.text()
    assert labels[0] in first and "plain prompts" in first and f"{model.config.smoothing} smoothing" in first and "no test-time" in first
    heatmap.move(lambda: heatmap.control("image").select_option(index=3), labels[3])
    heatmap.move(lambda: heatmap.control("prompts").select_option("winclip"), "winclip prompts")
    heatmap.move(lambda: heatmap.control("smoothing").select_option("gaussian"), "gaussian smoothing")
    view = heatmap.move(lambda: heatmap.control("test-time adaptation").check(), "with test-time adaptation")
    start = view["threshold"]
    view = heatmap.move(lambda: heatmap.slide("threshold", "ArrowLeft", 30), "threshold")
    assert view["threshold"] < start and f"threshold {view['threshold']:.4f}" in heatmap.text()
    view = heatmap.move(lambda: heatmap.slide("opacity", "ArrowRight", 2))
    assert view["opacity"] == pytest.approx(0.6)

    grid_image, grid_mask = samples["grid"][1]
    x = model.preprocess([grid_image.resize((size, size), Image.BILINEAR)])
    maps = model.with_config(prompts="winclip", smoothing="gaussian", image_views=1).predict(x, "grid", tta=True).anomaly_maps[0].numpy()
    values = np.asarray(view["values"]).reshape(size, size)
    assert np.abs(values - maps).max() <= (maps.max() - maps.min()) / 256 + 1e-5
    truth = resize_mask(grid_mask, (size, size))
    predicted = values >= view["threshold"]
    assert view["iou"] == pytest.approx(np.logical_and(predicted, truth).sum() / np.logical_or(predicted, truth).sum())
    assert f"IoU with the ground truth {view['iou']:.2f}" in heatmap.text()

    assert errors == []
    assert left == [] and requests == [url], requests  # nothing but the page itself was asked for
    context.close()


def test_an_explorer_alone_in_a_sandboxed_frame_draws_as_in_colab(browser, page_of_explorers, tmp_path):
    """Colab shows each output in a frame of its own: the fragment must carry everything it needs."""
    import html

    fragment = page_of_explorers["path"].read_text(encoding="utf-8")
    start = fragment.index('<div class="anoclip-explorer" data-explorer="heatmap">')
    heatmap = fragment[start:fragment.index("</body>")]
    page_path = tmp_path / "framed.html"
    page_path.write_text(f"<!doctype html><html><body><iframe sandbox='allow-scripts' width='1100' height='700' "
                         f"srcdoc='{html.escape(heatmap, quote=True)}'></iframe></body></html>", encoding="utf-8")
    context = browser.new_context(offline=True)
    page = context.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(page_path.as_uri())
    frame = page.frames[-1]
    frame.wait_for_function("() => { const r = document.querySelector('[data-explorer]');"
                            " return r && (r.hasAttribute('data-first-draw-ms') || r.hasAttribute('data-error')); }", timeout=20_000)
    root = page.frame_locator("iframe").locator('[data-explorer="heatmap"]')
    assert root.get_attribute("data-error") is None and float(root.get_attribute("data-first-draw-ms")) > 0
    assert page_of_explorers["labels"][0] in root.locator(".anoclip-explorer-status").inner_text()
    assert requests == [page_path.as_uri()]
    context.close()


def test_coarser_levels_paint_the_colour_of_their_bins(browser, page_of_explorers, tiny, tmp_path, monkeypatch):
    """A page over its budget stores fewer levels; each is painted in the colour map's colour at its middle."""
    import anoclip_book.viz.inline as inline

    monkeypatch.setattr(inline, "LEVELS", (16,))
    explorer = inline_attention_explorer(tiny, [page_of_explorers["pairs"][0][0]])
    assert explorer.levels == 16
    path = tmp_path / "coarse.html"
    path.write_text(f"<!doctype html><html><body>{explorer.html}</body></html>", encoding="utf-8")
    context = browser.new_context(offline=True)
    page = context.new_page()
    page.goto(path.as_uri())
    attention = Explorer(page, "attention")
    view = attention.move(lambda: attention.slide("opacity", "End"))
    np.testing.assert_array_equal(attention.patch_colours(tiny.grid), expected_colours(view, 16))
    assert "Stored with 16 levels" in attention.root.inner_text()
    context.close()
