"""The HTTP routes through FastAPI's TestClient: shapes of every answer, every kind of bad request → its exact
4xx and message (never a 5xx), the server still serving afterwards, and concurrent requests batched."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from vistakit import Vista
from vistakit.model import Engine
from vistakit.serve import ServeSettings, create_app

RESULT_KEYS = {"text", "answer", "task", "image_sizes", "boxes", "masks", "points", "keypoints", "image_ids", "labels",
               "scores", "loc_scores", "empty", "problems", "warnings"}  # fmt: skip
SETTINGS = ServeSettings(default_new_tokens=8, max_new_tokens=64, max_wait_ms=5)


@pytest.fixture
def client(micro_vista):
    with TestClient(create_app(micro_vista, SETTINGS)) as c:
        yield c


def chat(*content, model="micro", **extra):
    return {"model": model, "messages": [{"role": "user", "content": list(content)}], **extra}


def test_health_models_and_tasks(client):
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["model"] == "micro" and h["device"] == "cpu"
    assert h["batching"]["max_batch_size"] == 16 and h["batching"]["batches"] == 0
    models = client.get("/v1/models").json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["micro"]
    tasks = {t["name"]: t for t in client.get("/v1/tasks").json()["tasks"]}
    assert tasks["rec"]["slots"] == ["phrase"] and "Where is {phrase}?" in tasks["rec"]["prompt_templates"]
    assert tasks["which_image"]["num_images"] is None and tasks["nlvr"]["num_images"] == 2


def test_openapi_documents_the_bodies_and_errors(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/predict", "/v1/models", "/v1/tasks", "/health"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert {"PredictRequest", "PredictResponse", "ChatRequest", "ChatCompletion", "ErrorResponse"} <= set(schemas)
    assert set(schemas["PredictResponse"]["required"]) == RESULT_KEYS
    responses = spec["paths"]["/v1/predict"]["post"]["responses"]
    assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert client.get("/docs").status_code == 200


def test_predict_returns_the_typed_result_in_original_pixels(scripted_vista, png_url):
    with TestClient(create_app(scripted_vista, SETTINGS)) as c:
        r = c.post("/v1/predict", json={"images": [png_url], "prompt": "Where is the thing?", "task": "rec"})
    assert r.status_code == 200
    out = r.json()
    assert set(out) == RESULT_KEYS
    # 64 bins on an 80×40 image: <loc_8> → (8.5 / 64) × 80 px = 10.625 px
    assert out["boxes"] == [[10.62, 5.62, 30.62, 15.62]] and out["labels"] == ["thing"] and out["image_ids"] == [0]
    assert out["scores"] == [pytest.approx(0.85)] and out["loc_scores"] == [0.8, 0.6, 1.0, 1.0]
    assert out["image_sizes"] == [[80, 40]] and out["text"] == "thing" and out["task"] == "rec"


def test_predict_with_regions_base64_and_several_images(client, png, png_url):
    import base64

    body = {"images": [png_url, base64.b64encode(png).decode()], "prompt": "Describe <region>.",
            "regions": [{"type": "box", "image": 1, "box": [4, 4, 20, 20]}], "max_new_tokens": 4}  # fmt: skip
    r = client.post("/v1/predict", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["image_sizes"] == [[80, 40], [80, 40]] and isinstance(out["answer"], str) and out["task"] is None
    point = {"images": [png_url], "prompt": "What is here?", "regions": [{"type": "point", "point": [3, 5]}]}
    assert client.post("/v1/predict", json=point).status_code == 200


def test_chat_completion_shape_and_usage(client, png_url):
    r = client.post("/v1/chat/completions", json=chat({"type": "text", "text": "Where is the red circle?"},
                                                      {"type": "image_url", "image_url": {"url": png_url}},
                                                      max_tokens=5, temperature=0.7, user="u1"))  # fmt: skip
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["object"] == "chat.completion" and out["model"] == "micro"
    choice = out["choices"][0]
    assert choice["message"]["role"] == "assistant" and isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in ("stop", "length")
    assert set(choice["message"]["annotations"][0]["vistakit_prediction"]) == RESULT_KEYS
    usage = out["usage"]
    assert 0 < usage["completion_tokens"] <= 5 and usage["prompt_tokens"] > 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def bomb_png() -> bytes:
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 30_000, 30_000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 99)) + chunk(b"IEND", b"")


def bad_requests(png_url, data_url, encode):
    """(route, JSON body or raw text, status, code, words in the message, param)."""
    gif = data_url(encode(Image.new("P", (4, 4)), "GIF"), "image/gif")
    ok = {"images": [png_url], "prompt": "Where?"}
    P, C = "/v1/predict", "/v1/chat/completions"
    img = {"type": "image_url", "image_url": {"url": png_url}}
    return [
        (P, '{"images": [', 400, "invalid_json", "the request body is not valid JSON: Expecting value", None),
        (P, "", 422, "invalid_schema", "body: Field required", None),
        (P, {"images": [png_url], "prompt": 3}, 422, "invalid_schema", "prompt: Input should be a valid string",
         "prompt"),
        (P, {**ok, "colour": "red"}, 422, "invalid_schema", "colour: Extra inputs are not permitted", "colour"),
        (P, {**ok, "regions": [{"type": "circle"}]}, 422, "invalid_schema", "does not match any of the expected tags",
         "regions.0"),
        (P, '{"images": [], "prompt": "x", "regions": [{"type": "point", "point": [NaN, 1]}]}', 422, "invalid_schema",
         "finite number", "regions.0.point.point.0"),
        (P, {**ok, "max_new_tokens": 0}, 422, "invalid_schema", "greater than or equal to 1", "max_new_tokens"),
        (P, {**ok, "images": [png_url] * 5}, 400, "too_many_images", "5 images in one request; the limit is 4",
         "images"),
        (P, {**ok, "prompt": "x" * 2001}, 400, "prompt_too_long", "2001 characters; the limit is 2000", "prompt"),
        (P, {**ok, "prompt": "  "}, 400, "empty_prompt", "the prompt is empty", "prompt"),
        (P, {**ok, "regions": [{"type": "point", "point": [1, 1]}] * 17}, 400, "too_many_regions",
         "17 regions in one request; the limit is 16", "regions"),
        (P, {**ok, "task": "juggle"}, 400, "unknown_task", "unknown task 'juggle'; known: attcoseg, caption", "task"),
        (P, {**ok, "max_new_tokens": 10_000}, 400, "too_many_tokens", "above this server's limit of 64",
         "max_new_tokens"),
        (P, {**ok, "num_beams": 9}, 400, "too_many_beams", "num_beams 9 is above this server's limit of 4",
         "num_beams"),
        (P, {**ok, "images": ["data:image/png;base64," + "A" * 40]}, 400, "invalid_image", "not a readable PNG",
         "images.0"),
        (P, {**ok, "images": ["file:///etc/hostname"]}, 400, "unsupported_image_url", "file:// URLs are refused",
         "images.0"),
        (P, {**ok, "images": ["http://example.com/a.png"]}, 400, "unsupported_image_url", "not fetched", "images.0"),
        (P, {**ok, "images": [data_url(bomb_png())]}, 400, "image_too_large", "the image header claims 900000000 pixels; the limit is 16777216",
         "images.0"),
        (P, {**ok, "images": [gif]}, 400, "unsupported_image_type", "'image/gif' is not accepted", "images.0"),
        (P, {**ok, "regions": [{"type": "box", "image": 3, "box": [0, 0, 5, 5]}]}, 400, "invalid_request",
         "visual prompt image 3 out of range 0..0", None),
        (P, {**ok, "regions": [{"type": "box", "box": [9, 0, 5, 5]}]}, 400, "invalid_request",
         "x2 >= x1 and y2 >= y1", None),
        (P, {**ok, "prompt": "<image> and <image>?"}, 400, "invalid_request",
         "2 <image> placeholder(s) for 1 image(s)", None),
        (P, {**ok, "prompt": "why " * 400}, 400, "invalid_request", "tokens (image slots included); this model holds 256",
         None),
        (C, chat(img, model="gpt-4o"), 404, "model_not_found", ("model 'gpt-4o' is not served here; this server serves "
         "'micro'"), "model"),
        (C, chat(img, stream=True), 400, "unsupported", "streaming is not supported", "stream"),
        (C, chat(img, n=2), 422, "invalid_schema", "n: Input should be less than or equal to 1", "n"),
        (C, {"model": "micro", "messages": []}, 422, "invalid_schema", "messages: List should have at least 1 item",
         "messages"),
        (C, {"model": "micro", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "?"}]},
         400, "invalid_messages", "the last message must be the user's question", "messages.1.role"),
        (C, chat({"type": "input_audio", "input_audio": {}}), 422, "invalid_schema", "'input_audio' found using 'type'",
         None),
        (C, chat({"type": "text", "text": "Where?"}, {"type": "image_url", "image_url": {"url": "file:///etc/x.png"}}),
         400, "unsupported_image_url", "file:// URLs are refused", "messages.0.content.1.image_url.url"),
        (C, chat({"type": "text", "text": "Where?"}, {"type": "image_url", "image_url": {"url": gif}}), 400,
         "unsupported_image_type", "is not accepted", "messages.0.content.1.image_url.url"),
        (C, chat({"type": "text", "text": "x" * 2001}), 400, "prompt_too_long", "the limit is 2000",
         "messages.0.content"),
        (C, chat(*[img] * 5, {"type": "text", "text": "?"}), 400, "too_many_images", "the limit is 4", "images"),
    ]  # fmt: skip


def test_every_bad_request_is_a_4xx_naming_the_problem_and_the_server_keeps_serving(client, png_url, data_url, encode):
    for route, body, status, code, words, param in bad_requests(png_url, data_url, encode):
        if isinstance(body, str):
            r = client.post(route, content=body, headers={"content-type": "application/json"})
        else:
            r = client.post(route, json=body)
        err = r.json()["error"]
        assert (r.status_code, err["code"]) == (status, code), (route, body if isinstance(body, str) else "", r.text)
        assert words in err["message"], (words, err["message"])
        if param is not None:
            assert err["param"] == param, (err, param)
        assert err["type"] == ("not_found_error" if status == 404 else "invalid_request_error")
    # nothing above reached the model; a good request is still answered
    assert client.get("/health").json()["batching"]["requests"] == 0
    assert client.post("/v1/predict", json={"images": [png_url], "prompt": "Where?"}).status_code == 200


def test_routing_errors_body_limit_and_content_type(micro_vista, png_url):
    with TestClient(create_app(micro_vista, ServeSettings(max_body_bytes=1000))) as c:
        r = c.post("/v1/predict", json={"images": [png_url], "prompt": "Where?"})  # the PNG alone is ~13 kB
        assert r.status_code == 413
        assert r.json()["error"] == {"message": "the request body is larger than the limit of 1000 bytes",
                                     "type": "request_too_large", "param": None, "code": "body_too_large"}  # fmt: skip

        def chunks():  # no Content-Length: counted as it arrives
            yield b'{"images": ["'
            yield b"A" * 2000
            yield b'"], "prompt": "x"}'

        r = c.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
        r = c.get("/v1/predict")
        assert r.status_code == 405 and r.json()["error"]["message"] == "GET is not allowed on /v1/predict"
        r = c.get("/v2/nothing")
        assert r.status_code == 404 and "no route /v2/nothing" in r.json()["error"]["message"]
        r = c.post(
            "/v1/predict", content=json.dumps({"images": [], "prompt": "x"}), headers={"content-type": "text/plain"}
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_schema"
        assert c.get("/static/no-such-file.js").status_code == 404


def test_web_page_is_served(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "/static/" in r.text


def test_concurrent_requests_share_one_generation_call(micro_vista, png_url):
    vista = micro_vista  # its engine records every generation call
    settings = ServeSettings(default_new_tokens=4, max_wait_ms=300)  # a long window: all 6 arrive within it
    with TestClient(create_app(vista, settings)) as c, ThreadPoolExecutor(6) as pool:
        body = {"images": [png_url], "prompt": "Where?"}
        statuses = list(pool.map(lambda i: c.post("/v1/predict", json={**body, "prompt": f"Where {i}?"}).status_code,
                                 range(6)))  # fmt: skip
        health = c.get("/health").json()["batching"]
    assert statuses == [200] * 6
    assert sorted(p for call in vista.engine.calls for p in call) == [f"<image>\nWhere {i}?" for i in range(6)]
    assert max(len(call) for call in vista.engine.calls) >= 3 and len(vista.engine.calls) <= 2
    assert health["requests"] == 6 and health["largest_batch"] >= 3


class FaultyEngine(Engine):
    """Fails on any batch holding a prompt with 'boom' (a fault of the model, not of the request)."""

    def generate(self, images, prompts, visual_prompts=None, **gen):
        if any("boom" in p for p in prompts):
            raise RuntimeError("model fault")
        return super().generate(images, prompts, visual_prompts, **gen)


def test_a_model_fault_fails_only_its_own_request(micro_parts, png_url):
    settings = ServeSettings(default_new_tokens=4, max_wait_ms=300)
    app = create_app(Vista(FaultyEngine(*micro_parts), "micro"), settings)
    with TestClient(app, raise_server_exceptions=False) as c, ThreadPoolExecutor(3) as pool:
        prompts = ["Where?", "boom", "What?"]
        replies = list(pool.map(lambda p: c.post("/v1/predict", json={"images": [png_url], "prompt": p}), prompts))
        assert [r.status_code for r in replies] == [200, 500, 200]
        assert replies[1].json()["error"]["message"] == "internal server error (RuntimeError); the server keeps serving"
        assert c.post("/v1/predict", json={"images": [png_url], "prompt": "Again?"}).status_code == 200
