"""Chat messages → prompt (which message counts, where images go) and a result → OpenAI's response shape."""

import numpy as np
import pytest

from vistakit.api import Result
from vistakit.serve.errors import RequestError
from vistakit.serve.openai_chat import chat_completion, chat_prompt
from vistakit.serve.schemas import ChatRequest


def text(t):
    return {"type": "text", "text": t}


def img(url="data:image/png;base64,AAAA"):
    return {"type": "image_url", "image_url": {"url": url}}


def prompt_of(*content, history=()):
    body = ChatRequest(model="m", messages=[*history, {"role": "user", "content": list(content)}])
    return chat_prompt(body)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ((text("Where is the red circle?"), img()), "<image>\nWhere is the red circle?"),  # question, then image
        ((img(), text("Where is the red circle?")), "<image>\nWhere is the red circle?"),
        (
            (img(), img(), text("Which image has a star?")),
            "Image 1: <image>\nImage 2: <image>\nWhich image has a star?",
        ),
        (
            (text("Which image has a star?"), img(), img()),
            "Image 1: <image>\nImage 2: <image>\nWhich image has a star?",
        ),
        (
            (text("Image 1:"), img(), text("Image 2:"), img(), text("Same shape?")),
            "Image 1: <image>\nImage 2: <image>\nSame shape?",
        ),
        ((text("Compare"), img(), img(), text("Which is larger?")), "Compare <image>\n<image>\nWhich is larger?"),
        ((text("  Describe  "), text(""), text("briefly."), img()), "<image>\nDescribe\nbriefly."),
        ((text("A caption, please."),), "A caption, please."),
    ],
)
def test_images_are_placed_by_the_documented_rule(content, expected):
    images, prompt = prompt_of(*content)
    assert prompt == expected and len(images) == prompt.count("<image>")


def test_only_the_last_user_message_is_the_question():
    history = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": [img("data:old")]},
               {"role": "assistant", "content": "A circle."}]  # fmt: skip
    images, prompt = prompt_of(text("And now?"), img("data:new"), history=history)
    assert prompt == "<image>\nAnd now?" and images == [("data:new", "messages.3.content.1.image_url.url")]
    images, prompt = chat_prompt(ChatRequest(model="m", messages=[{"role": "user", "content": "Plain string"}]))
    assert (images, prompt) == ([], "Plain string")


def test_bad_conversations_are_refused_naming_the_message():
    body = ChatRequest(model="m", messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "?"}])
    with pytest.raises(RequestError, match="the last message must be the user's question") as info:
        chat_prompt(body)
    assert info.value.param == "messages.1.role"
    with pytest.raises(RequestError, match="must not contain <image>") as info:
        prompt_of(text("Look: <image>"), img())
    assert info.value.param == "messages.0.content.0.text"
    with pytest.raises(RequestError, match="has no content"):
        chat_prompt(ChatRequest(model="m", messages=[{"role": "user", "content": None}]))


def test_chat_completion_has_openai_shape_and_the_typed_results():
    result = Result(text="red circle", answer="<p>red circle</p><box>…</box>", task="rec", image_sizes=[(80, 40)],
                    boxes=np.array([[1.0, 2.0, 30.0, 20.0]]), labels=["red circle"], image_ids=[0],
                    scores=np.array([0.5]), prompt_tokens=28, completion_tokens=10, finish_reason="length")  # fmt: skip
    out = chat_completion(result, "micro")
    assert out["object"] == "chat.completion" and out["id"].startswith("chatcmpl-") and out["model"] == "micro"
    choice = out["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "length"
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"] == "red circle"
    (note,) = choice["message"]["annotations"]
    assert note["type"] == "vistakit_prediction"
    assert note["vistakit_prediction"]["boxes"] == [[1.0, 2.0, 30.0, 20.0]]
    assert out["usage"] == {"prompt_tokens": 28, "completion_tokens": 10, "total_tokens": 38}
    empty = Result(text="", answer="<none>", task="rec", image_sizes=[(8, 8)], empty=True)
    assert chat_completion(empty, "m")["choices"][0]["message"]["content"] == "<none>"  # raw when no words
