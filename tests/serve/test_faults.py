"""The probe of issue 48, as fast tests: bodies JSON cannot parse get OpenAI-shaped errors with a code, a lone
surrogate is our own 400, decoding holds its pixels in a server-wide budget (a request that finds it spent waits,
then gets 503 with Retry-After), and images reach the batch reduced to the model's resolution with the very same
model input and results in original pixels."""

import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from vistakit.serve import ServeSettings, create_app
from vistakit.serve.pixel_budget import BudgetSpent, PixelBudget
from vistakit.serve.requests import at_model_size

SETTINGS = ServeSettings(default_new_tokens=8, max_new_tokens=64, max_wait_ms=5)


@pytest.fixture
def client(scripted_vista):
    with TestClient(create_app(scripted_vista, SETTINGS)) as c:
        yield c


def post_raw(client, body: bytes, route: str = "/v1/predict"):
    return client.post(route, content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    "body, words",
    [
        (b'{"images": [], "prompt": "\xff\xfe caf\xe9"}', "not valid UTF-8 (byte 0xff at position 26)"),
        (b'{"images": ' + b"[" * 5000 + b"]" * 5000 + b', "prompt": "x"}', "nested too deeply"),
        (b'{"images": [], "prompt": "x", "num_beams": ' + b"9" * 5000 + b"}", "integer literal with too many digits"),
        (b'{"images": [], "prompt": "x"', "not valid JSON"),
    ],
    ids=["non-utf8", "deep-nesting", "huge-integer", "cut-off"],
)
def test_unparseable_bodies_are_openai_shaped_with_a_code(client, body, words):
    for route in ("/v1/predict", "/v1/chat/completions"):
        r = post_raw(client, body, route)
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert set(err) == {"message", "type", "param", "code"} and err["type"] == "invalid_request_error"
        assert err["code"] == "invalid_json" and words in err["message"]


def test_a_lone_surrogate_is_our_own_400_wherever_it_is(client, png_url):
    r = post_raw(client, ('{"images": ["%s"], "prompt": "where \\ud800 is"}' % png_url).encode())
    assert r.status_code == 400 and r.json()["error"] == {
        "message": "the prompt has a lone UTF-16 surrogate (\\ud800) at character 6; expected valid Unicode text",
        "type": "invalid_request_error", "param": "prompt", "code": "invalid_prompt"}  # fmt: skip
    chat = b'{"model": "scripted", "messages": [{"role": "user", "content": "hi \\udfff"}]}'
    r = post_raw(client, chat, "/v1/chat/completions")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_prompt"
    r = post_raw(client, ('{"images": ["%s"], "prompt": "x", "task": "\\ud800"}' % png_url).encode())
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_task"  # echoed escaped, not a 500
    for path, code in (("/v2/nothing", "not_found"), ("/v1/predict", "method_not_allowed")):
        assert client.get(path).json()["error"]["code"] == code


def test_the_budget_waits_then_refuses_and_never_overcommits():
    budget = PixelBudget(100, wait_s=0.05)
    with budget.reserve(60):
        with pytest.raises(BudgetSpent, match="60 of the 100 decoded pixels"):
            with budget.reserve(50):
                pass
        with budget.reserve(40):  # fits beside
            assert budget.used == 100
    assert budget.used == 0 and budget.peak == 100 and budget.refused == 1
    with budget.reserve(10_000):  # larger than the whole budget: takes all of it, so runs alone
        assert budget.used == 100

    budget = PixelBudget(100, wait_s=5)
    order = []
    with budget.reserve(80):
        t = threading.Thread(target=lambda: budget.reserve(80).__enter__() or order.append("second"))
        t.start()
        time.sleep(0.1)
        order.append("first done")
    t.join(5)
    assert order == ["first done", "second"]  # the waiter got its pixels once they were released


def test_a_spent_budget_is_a_503_with_retry_after(scripted_vista, png_url):
    settings = ServeSettings(max_decoded_pixels=80 * 40, pixel_wait_s=0.05)  # the test PNG is 80×40
    app = create_app(scripted_vista, settings)
    with TestClient(app) as c:
        with app.state.pixel_budget.reserve(1):  # another request holds a pixel
            r = c.post("/v1/predict", json={"images": [png_url], "prompt": "Where?"})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert r.json()["error"]["code"] == "overloaded" and "decoded pixels" in r.json()["error"]["message"]
        assert c.post("/v1/predict", json={"images": [png_url], "prompt": "Where?"}).status_code == 200
        assert app.state.pixel_budget.used == 0 and app.state.pixel_budget.peak == 80 * 40


def test_images_reach_the_batch_at_model_size_with_the_same_model_input(scripted_vista):
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (300, 500, 3), dtype=np.uint8)
    small = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)  # under the 16 px canvas: kept as it is
    regions = [{"type": "box", "image": 0, "box": [50, 20, 400, 290]}, {"type": "point", "image": 0, "point": [499, 1]}]
    prepared = scripted_vista.prepare(scripted_vista_request(big, small, regions))
    reduced = at_model_size(prepared, 16)
    assert reduced.images[0].shape == (10, 16, 3) and reduced.images[1] is prepared.images[1]
    assert reduced.image_sizes == prepared.image_sizes == [(500, 300), (12, 10)]
    proc = scripted_vista.processor
    full = proc([prepared.images], [prepared.prompt], visual_prompts=[prepared.regions], padding_side="left")
    cut = proc([reduced.images], [reduced.prompt], visual_prompts=[reduced.regions], padding_side="left")
    assert (full["pixel_values"] == cut["pixel_values"]).all()  # bit for bit what the model would have seen
    assert (full["input_ids"] == cut["input_ids"]).all()  # the regions encode to the same location tokens
    result = scripted_vista.run([reduced])[0]
    assert result.image_sizes == [(500, 300), (12, 10)] and result.boxes.max() > 16  # original pixels


def scripted_vista_request(*images_and_regions):
    from vistakit import Request

    *images, regions = images_and_regions
    return Request(list(images), "Compare <region> and <region>.", regions=regions)
