"""The upload page in a real browser: Debian's Chromium driven by Playwright against `digits serve`."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest

from .live_server import serve

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # reported by the browser fixture: a skip on a developer's machine, a failure in CI
    expect = sync_playwright = None
    PlaywrightTimeout = TimeoutError

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DATA = Path(__file__).parent / "data"
SCREENSHOTS = Path(__file__).parent / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
              "has_touch": True},
}
READ_SECONDS = 30_000  # ms a reading may take on a busy 2-core machine


def missing(reason: str) -> None:
    """Skip on a developer's machine without a browser; in CI a missing browser is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: the browser tests must run in CI")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if sync_playwright is None:
        missing("the playwright package is not installed (pip install -e '.[test]')")
    if not CHROMIUM.is_file():
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(browser):
    with serve(workers=1) as running:
        yield running


@pytest.fixture(scope="module")
def shots(request):
    """Where screenshots go; the folder is named at the end of the run so CI's log points to it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield SCREENSHOTS
    count = len(list(SCREENSHOTS.glob("*.png")))
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # straight to the terminal, so CI's log has it
        print(f"\nbrowser screenshots ({count}): {SCREENSHOTS.resolve()}")


@pytest.fixture(params=list(VIEWPORTS))
def page(request, browser, server, shots):
    """A fresh page on `/` at a desktop or phone size; fails the test on a script error or a CSP violation."""
    context = browser.new_context(**VIEWPORTS[request.param])
    page = context.new_page()
    problems = watch(page)
    page.goto(server.url + "/")

    def snap(state: str) -> Path:
        path = shots / f"{request.param}-{state}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path.resolve()}")
        return path

    page.snap = snap
    yield page
    context.close()
    assert not problems, problems


def watch(page) -> list[str]:
    """Script errors and Content-Security-Policy violations on `page`, as they happen."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    return problems


def newest_card(page):
    """The top result card once its reading is done."""
    card = page.locator("#results > article").first
    expect(card).not_to_have_class(re.compile(r"\bbusy\b"), timeout=READ_SECONDS)
    return card


def test_upload_a_digit_file(page):
    page.set_input_files("#file", DATA / "digit_7.png")
    card = newest_card(page)
    expect(card.locator(".digits")).to_have_text("7")
    expect(card.locator(".card-title")).to_have_text("digit_7.png")
    expect(card.locator("rect.box")).to_have_count(1)
    expect(card.locator("svg.boxes")).to_have_attribute("viewBox", "0 0 28 28")  # the upload was shown
    expect(card.locator(".model-input img")).to_be_visible()
    expect(card.locator(".confidence")).to_contain_text("%")
    expect(card.locator("rect.bar")).to_have_count(10)
    page.snap("upload-digit")


def test_upload_a_row_of_digits_shows_the_string_and_the_boxes(page):
    page.set_input_files("#file", DATA / "row_2025.png")
    card = newest_card(page)
    expect(card.locator(".digits")).to_have_text("2025")
    expect(card.locator("rect.box")).to_have_count(4)
    expect(card.locator("svg.boxes")).to_have_attribute("viewBox", "0 0 346 145")
    expect(card.locator(".digit-value")).to_have_text(["2", "0", "2", "5"])
    expect(card.locator(".model-input img")).to_have_count(4)
    page.snap("upload-row")


@pytest.mark.parametrize("name, digits, size", [("iphone_photo_4.heic", "4", "1200 900"),
                                                 ("scan_a4_3.tif", "3", "2480 3508")])
def test_an_image_the_browser_cannot_show_is_shown_from_the_server_with_its_boxes(page, name, digits, size):
    """Chromium shows neither HEIC (an iPhone's photos) nor TIFF (a scanner's): the server's preview stands
    in, with the boxes where they belong."""
    page.set_input_files("#file", DATA / name)
    card = newest_card(page)
    expect(card.locator(".digits")).to_have_text(digits)
    picture = card.locator("figure.upload img")
    expect(picture).to_have_attribute("src", re.compile(r"^data:image/jpeg;base64,"))
    expect(card.locator("svg.boxes")).to_have_attribute("viewBox", f"0 0 {size}")
    expect(card.locator("rect.box")).to_have_count(len(digits))
    expect(card).not_to_contain_text("cannot show")
    assert picture.evaluate("img => img.naturalWidth") > 0
    page.snap(f"unshown-{name.split('.')[-1]}")


def stroke(page, start: tuple[float, float], end: tuple[float, float], steps: int = 24) -> None:
    """Draw a straight line on the pad with the mouse; points are fractions of the pad's size."""
    page.locator("#pad").scroll_into_view_if_needed()  # below the fold on a phone
    box = page.locator("#pad").bounding_box()
    at = [(box["x"] + box["width"] * (start[0] + (end[0] - start[0]) * i / steps),
           box["y"] + box["height"] * (start[1] + (end[1] - start[1]) * i / steps)) for i in range(steps + 1)]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y)
    page.mouse.up()


def test_draw_a_one_with_the_mouse(page):
    expect(page.locator("#pad")).to_be_visible()
    stroke(page, (0.5, 0.15), (0.5, 0.85))  # read when the pen lifts, no button pressed
    card = newest_card(page)
    expect(card.locator(".card-title")).to_have_text("Drawing 1")
    expect(card.locator(".digits")).to_have_text("1")
    page.snap("draw-one")


def test_draw_a_one_with_a_finger(browser, server):
    context = browser.new_context(**VIEWPORTS["phone"])
    page = context.new_page()
    problems = watch(page)
    page.goto(server.url + "/")
    page.locator("#pad").scroll_into_view_if_needed()
    box = page.locator("#pad").bounding_box()
    scrolled = page.evaluate("window.scrollY")
    touch = context.new_cdp_session(page)  # real touch events, as a phone's screen sends them
    x, top, height = box["x"] + box["width"] / 2, box["y"], box["height"]
    points = [{"x": x, "y": top + height * (0.15 + 0.7 * i / 20)} for i in range(21)]
    touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [points[0]]})
    for point in points[1:]:
        touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert page.evaluate("window.scrollY") == scrolled  # drawing does not drag the page along
    expect(newest_card(page).locator(".digits")).to_have_text("1")
    context.close()
    assert not problems, problems


def test_undo_rereads_and_clear_starts_a_new_drawing(page):
    undo, clear = page.locator("#pad-undo"), page.locator("#pad-clear")
    expect(undo).to_be_disabled()
    stroke(page, (0.5, 0.15), (0.5, 0.85))
    expect(newest_card(page).locator(".digits")).to_have_text("1")
    stroke(page, (0.15, 0.3), (0.15, 0.85), steps=8)  # a second stroke far to the left: a second "1"
    expect(newest_card(page).locator(".digit-value")).to_have_count(2, timeout=READ_SECONDS)
    undo.click()
    card = newest_card(page)
    expect(card.locator(".digit-value")).to_have_count(1, timeout=READ_SECONDS)
    expect(card.locator(".digits")).to_have_text("1")
    expect(page.locator("#results > article")).to_have_count(1)  # the same drawing, read again
    clear.click()
    expect(undo).to_be_disabled()
    expect(page.locator("#pad-hint")).to_be_visible()
    page.locator("#pad-read").click()  # nothing to read: nothing sent
    expect(page.locator("#announcer")).to_have_text("Draw a digit on the pad first.")
    stroke(page, (0.5, 0.2), (0.5, 0.8))
    card = newest_card(page)
    expect(card.locator(".card-title")).to_have_text("Drawing 2")
    expect(page.locator("#results .card-title")).to_have_text(["Drawing 2", "Drawing 1"])


def test_a_text_file_gets_an_error_in_plain_words(page):
    page.set_input_files("#file", DATA / "not_an_image.txt")
    card = page.locator("#results > article.error").first
    expect(card).to_be_visible(timeout=READ_SECONDS)
    expect(card).to_have_attribute("role", "alert")
    expect(card.locator(".error-headline")).to_have_text("That file isn't an image")
    expect(card.locator(".error-detail")).to_contain_text("PNG, JPEG")
    expect(card).not_to_contain_text("{")  # words, not the API's JSON
    page.snap("error-text-file")


# Builds a File from base64 PNG bytes and hands it to the page as a drop or a paste would.
GIVE_FILE = """([png, name, how]) => {
    const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], name, { type: "image/png" }));
    if (how === "drop") {
        for (const type of ["dragenter", "dragover", "drop"]) {
            const init = { dataTransfer: data, bubbles: true, cancelable: true };
            document.body.dispatchEvent(new DragEvent(type, init));
        }
    } else {
        document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true }));
    }
}"""


def test_drop_and_paste_images(page):
    png = base64.b64encode((DATA / "digit_7.png").read_bytes()).decode("ascii")
    page.evaluate(GIVE_FILE, [png, "dropped.png", "drop"])
    card = newest_card(page)
    expect(card.locator(".card-title")).to_have_text("dropped.png")
    expect(card.locator(".digits")).to_have_text("7")
    expect(page.locator("body")).not_to_have_class("dragging")
    page.evaluate(GIVE_FILE, [png, "pasted.png", "paste"])
    card = newest_card(page)
    expect(card.locator(".card-title")).to_have_text("pasted.png")
    expect(card.locator(".digits")).to_have_text("7")
    expect(page.locator("#results > article")).to_have_count(2)


def test_keyboard_alone_can_pick_a_file(page):
    for _ in range(12):  # the file picker is among the first few stops
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "file":
            break
    assert page.evaluate("document.activeElement.id") == "file"
    # Space or Enter opens the picker; headless Chromium now and then drops the first key press.
    for key in ("Space", "Enter", "Space"):
        try:
            with page.expect_file_chooser(timeout=5000) as chooser:
                page.keyboard.press(key)
            break
        except PlaywrightTimeout:
            continue
    else:
        pytest.fail("neither Space nor Enter on the focused file picker opened it")
    chooser.value.set_files(DATA / "digit_7.png")
    expect(newest_card(page).locator(".digits")).to_have_text("7")


@pytest.mark.parametrize("name, status, expected", [("digit_7.png", 200, "7"),
                                                     ("not_an_image.txt", 415, "That file isn't an image")])
def test_the_plain_form_works_without_javascript(browser, server, shots, name, status, expected):
    context = browser.new_context(java_script_enabled=False, **VIEWPORTS["phone"])
    page = context.new_page()
    page.goto(server.url + "/")
    expect(page.locator("#draw-panel")).to_be_hidden()  # drawing needs JavaScript
    page.set_input_files("#file", DATA / name)
    with page.expect_navigation() as navigation:
        page.locator("#upload-submit").click()
    assert navigation.value.status == status
    expect(page.locator("#results")).to_contain_text(expected)
    if status == 200:
        expect(page.locator(".digits")).to_have_text(expected)
        expect(page.locator("rect.box")).to_have_count(1)
    path = shots / f"no-js-phone-{'result' if status == 200 else 'error'}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path.resolve()}")
    context.close()


def test_dark_colour_scheme(browser, server, shots):
    context = browser.new_context(color_scheme="dark", **VIEWPORTS["desktop"])
    page = context.new_page()
    problems = watch(page)
    page.goto(server.url + "/")
    page.set_input_files("#file", [DATA / "row_2025.png", DATA / "digit_7.png"])
    expect(page.locator("#results > article.result:not(.busy)")).to_have_count(2, timeout=READ_SECONDS)
    expect(page.locator("#results > article .card-title")).to_have_text(["row_2025.png", "digit_7.png"])
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(255, 255, 255)" and background.startswith("rgb(")
    path = shots / "desktop-dark.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path.resolve()}")
    context.close()
    assert not problems, problems
