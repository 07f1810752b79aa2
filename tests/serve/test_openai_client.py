"""A real uvicorn server on a free loopback port: the OpenAI client library works against it unchanged, its
errors arrive as the library's exceptions, and concurrent HTTP clients are batched together."""

import asyncio

import httpx
import openai
import pytest

from vistakit.serve import ServeSettings, create_app


@pytest.fixture
def server(micro_vista, serving):
    with serving(create_app(micro_vista, ServeSettings(default_new_tokens=6, max_wait_ms=200))) as url:
        yield url


def test_openai_client_reads_the_text_and_the_annotations(server, png_url):
    client = openai.OpenAI(base_url=f"{server}/v1", api_key="x", max_retries=0)
    assert [m.id for m in client.models.list()] == ["micro"]
    reply = client.chat.completions.create(
        model="micro",
        messages=[{"role": "system", "content": "Answer briefly."},
                  {"role": "user", "content": [{"type": "text", "text": "Where is the red circle?"},
                                               {"type": "image_url", "image_url": {"url": png_url}}]}],
        max_tokens=4, temperature=0.0, extra_body={"task": "rec"},
    )  # fmt: skip
    assert isinstance(reply.choices[0].message.content, str) and reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.completion_tokens <= 4 and reply.usage.total_tokens > reply.usage.prompt_tokens
    (note,) = reply.model_dump()["choices"][0]["message"]["annotations"]
    assert note["type"] == "vistakit_prediction" and note["vistakit_prediction"]["image_sizes"] == [[80, 40]]
    assert note["vistakit_prediction"]["task"] == "rec"


def test_openai_client_gets_the_error_message(server):
    client = openai.OpenAI(base_url=f"{server}/v1", api_key="x", max_retries=0)
    bad = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="micro", messages=[bad])
    assert info.value.status_code == 400 and "file:// URLs are refused" in info.value.message
    with pytest.raises(openai.NotFoundError, match="this server serves 'micro'"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


def test_concurrent_http_clients_are_batched_and_the_server_survives_bad_ones(server, micro_vista, png_url):
    async def main():
        async with httpx.AsyncClient(base_url=server, timeout=30) as http:
            good = [http.post("/v1/predict", json={"images": [png_url], "prompt": f"Where is {i}?"}) for i in range(8)]
            bad = [http.post("/v1/predict", content=b"{not json", headers={"content-type": "application/json"}),
                   http.post("/v1/predict", json={"images": ["data:image/png;base64,AAAA"], "prompt": "x"})]  # fmt: skip
            replies = await asyncio.gather(*good, *bad)
            after = await http.post("/v1/predict", json={"images": [png_url], "prompt": "Still there?"})
            health = (await http.get("/health")).json()
        return [r.status_code for r in replies], after.status_code, health

    statuses, after, health = asyncio.run(main())
    assert statuses == [200] * 8 + [400, 400] and after == 200
    sizes = [len(call) for call in micro_vista.engine.calls]
    assert sum(sizes) == 9 and max(sizes) >= 4  # the 8 concurrent ones shared calls
    assert health["batching"]["requests"] == 9 and health["batching"]["largest_batch"] == max(sizes)
